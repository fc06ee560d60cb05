"""Evaluating `AutomationCondition` on every asset that has one, once per daemon iteration.

Rules (docs/automation.md has the long form). An upstream is *present* when it has data for
the partition (for the same partitioning: that partition; otherwise: any materialization);
external assets always count as present. An asset with a run in progress, or an upstream
requested or in progress, waits; so does one whose upstream's newest data failed a blocking
asset check in the run that wrote it (that run skipped its downstream steps on purpose).

* ``on_missing``: a missing asset (partition) with every upstream present, requested once
  (a run that failed is not requested again; materialize it by hand).
* ``eager``: a missing asset (partition) with every upstream present, or one whose upstream
  was materialized again since (unpartitioned: a newer materialization; partitioned: the
  partitions storage reports stale); requested once per upstream change (a run that failed
  is tried again after the next upstream update, not on every iteration).
* ``on_cron``: once per tick of the cron, after every upstream was materialized since it.

Partitioned assets consider their newest time partition, or every static/dynamic key. Run
keys (asset, rule, partition, and the upstream change or tick) make each request happen once,
whichever daemon sees it first. Requests for the same partition share one run.

Example:
    >>> from datetime import UTC, datetime
    >>> from raystra import Definitions
    >>> from raystra.storage import open_storage
    >>> evaluate_conditions(Definitions(), open_storage("sqlite://"), now=datetime.now(UTC))
    []
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from raystra.automation._schedule import last_closed_partition
from raystra.automation._ticks import RUN_KEY_TAG
from raystra.definitions import (
    AssetKey,
    AssetsDefinition,
    Definitions,
    PartitionsDefinition,
    TimeWindowPartitionsDefinition,
)
from raystra.definitions._automation_condition import AutomationCondition
from raystra.definitions._cron import latest_tick
from raystra.events import RunStatus
from raystra.storage import MaterializationRecord, RunStorage
from raystra.storage._automation_records import AutomationEvaluation

__all__ = ["AUTOMATION", "evaluate_conditions"]

AUTOMATION = "__automation__"  # the instigator name automation run keys are claimed under


@dataclass(frozen=True)
class _Want:
    key: AssetKey
    partition: str | None
    run_key: str
    reason: str


class _Snapshot:
    """What the evaluation reads from storage, each piece once."""

    def __init__(self, definitions: Definitions, storage: RunStorage) -> None:
        self.definitions = definitions
        self.storage = storage
        self.latest: dict[AssetKey, MaterializationRecord] = storage.latest_materializations()
        self._materialized: dict[AssetKey, set[str | None]] = {}
        self._stale: dict[AssetKey, set[str | None]] = {}
        self._run_ids: dict[AssetKey, dict[str | None, str]] = {}
        self._blocked: dict[AssetKey, dict[str | None, str]] = {}
        self.busy: set[str] = set()
        for run in storage.get_runs(limit=500, statuses=[RunStatus.QUEUED, RunStatus.STARTED]):
            self.busy.update(self._asset_labels(run.selection))
        for pending in storage.pending_launches(limit=500):
            self.busy.update(pending.request.get("selection") or ())

    def _asset_labels(self, step_keys: Iterable[str]) -> set[str]:
        """The assets a run's steps materialize: a multi-asset's step is named after its
        function, not after the assets it writes."""
        labels = set(step_keys)
        for step_key in step_keys:
            try:
                node = self.definitions.get_node_by_step_key(step_key)
            except KeyError:  # an op of a job, or a step these definitions no longer have
                continue
            labels.update(k.to_user_string() for k in node.keys)
        return labels

    def materialized(self, key: AssetKey) -> set[str | None]:
        if key not in self._materialized:
            states = self.storage.partition_states(key)
            self._materialized[key] = {p for p, s in states.items() if s.status == "materialized"}
        return self._materialized[key]

    def stale(self, key: AssetKey) -> set[str | None]:
        if key not in self._stale:
            self._stale[key] = set(self.storage.stale_partitions(key))
        return self._stale[key]

    def run_ids(self, key: AssetKey) -> dict[str | None, str]:
        if key not in self._run_ids:
            self._run_ids[key] = self.storage.partition_run_ids(key)
        return self._run_ids[key]

    def blocked(self, key: AssetKey) -> dict[str | None, str]:
        """Partitions whose newest data failed a blocking check in the run that wrote it,
        and the check's name."""
        if key not in self._blocked:
            found: dict[str | None, str] = {}
            if self.definitions.checks_for(key):
                run_ids = self.run_ids(key)
                for result in self.storage.latest_check_results([key]).get(key, []):
                    if result.blocked and run_ids.get(result.partition) == result.run_id:
                        found.setdefault(result.partition, result.check_name)
            self._blocked[key] = found
        return self._blocked[key]


def _candidates(
    partitions_def: PartitionsDefinition | None, snap: _Snapshot, now: datetime
) -> list[str | None]:
    if partitions_def is None:
        return [None]
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        latest = last_closed_partition(partitions_def, now)
        return [latest] if latest is not None else []
    return list(partitions_def.get_partition_keys(now, snap.storage))


def _upstream(snap: _Snapshot, key: AssetKey) -> list[AssetKey]:
    graph = snap.definitions.asset_graph
    return sorted(p for p in graph.parents.get(key, ()) if p not in graph.external)


def _present(snap: _Snapshot, key: AssetKey, parent: AssetKey, partition: str | None) -> bool:
    defs = snap.definitions
    if partition is not None and defs.partitions_def_for(parent) == defs.partitions_def_for(key):
        return partition in snap.materialized(parent)
    return parent in snap.latest


def _held_back(
    snap: _Snapshot, key: AssetKey, parent: AssetKey, partition: str | None
) -> str | None:
    """The blocking check ``parent``'s data for ``partition`` of ``key`` failed, if any."""
    blocked = snap.blocked(parent)
    if not blocked:
        return None
    defs = snap.definitions
    if partition is not None and defs.partitions_def_for(parent) == defs.partitions_def_for(key):
        return blocked.get(partition)
    newest = snap.latest.get(parent)
    return blocked.get(newest.partition) if newest is not None else None


def _version(snap: _Snapshot, key: AssetKey, parent: AssetKey, partition: str | None) -> str:
    """What changes when ``parent``'s data for ``partition`` of ``key`` is materialized again."""
    defs = snap.definitions
    if partition is not None and defs.partitions_def_for(parent) == defs.partitions_def_for(key):
        return snap.run_ids(parent).get(partition, "-")
    record = snap.latest.get(parent)
    return str(record.storage_id) if record is not None else "-"


def _fingerprint(parts: Iterable[str]) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _versions(snap: _Snapshot, key: AssetKey, partition: str | None) -> str:
    """One fingerprint of every upstream's data for ``partition`` of ``key``."""
    return _fingerprint(_version(snap, key, p, partition) for p in _upstream(snap, key))


def _decide(
    snap: _Snapshot,
    key: AssetKey,
    condition: AutomationCondition,
    now: datetime,
    requested: set[AssetKey],
) -> tuple[list[_Want], str]:
    label = key.to_user_string()
    if label in snap.busy:
        return [], "a run materializing it is in progress"
    parents = _upstream(snap, key)
    waiting = [p for p in parents if p in requested or p.to_user_string() in snap.busy]
    if waiting:
        return [], f"waiting for upstream {waiting[0].to_user_string()} (requested or running)"
    partitions_def = snap.definitions.partitions_def_for(key)
    wants: list[_Want] = []
    reasons: list[str] = []
    tick = None
    if condition.kind == "on_cron":
        assert condition.cron_schedule is not None
        tick = latest_tick(condition.cron_schedule, condition.cron_timezone, at_or_before=now)
        late = [
            p.to_user_string()
            for p in parents
            if p not in snap.latest or snap.latest[p].timestamp < tick.timestamp()
        ]
        if late:
            return [], f"waiting for {', '.join(late)} to update since the {tick.isoformat()} tick"
        own = snap.latest.get(key)
        if partitions_def is None and own is not None and own.timestamp >= tick.timestamp():
            return [], f"materialized since the {tick.isoformat()} tick"
    for partition in _candidates(partitions_def, snap, now):
        where = f"{label}" + (f"[{partition}]" if partition is not None else "")
        absent = [p.to_user_string() for p in parents if not _present(snap, key, p, partition)]
        if absent:
            reasons.append(f"{where}: upstream {', '.join(absent)} has no data")
            continue
        held = [(p, _held_back(snap, key, p, partition)) for p in parents]
        failed = [f"{p.to_user_string()} failed blocking check {c}" for p, c in held if c]
        if failed:
            # The run that wrote it skipped its downstream steps; do not undo that here.
            reasons.append(f"{where}: upstream {', '.join(failed)}")
            continue
        have = key in snap.latest if partition is None else partition in snap.materialized(key)
        suffix = "" if partition is None else f":{partition}"
        if condition.kind == "on_cron":
            assert tick is not None
            wants.append(
                _Want(
                    key,
                    partition,
                    f"{label}:on_cron{suffix}:{tick.isoformat()}",
                    f"{where}: cron tick {tick.isoformat()} passed, upstream updated",
                )
            )
        elif not have:
            # on_missing asks once; eager asks again when upstream data changes, so a failed
            # first materialization is retried with the next upstream update.
            once = "" if condition.kind == "on_missing" else f":{_versions(snap, key, partition)}"
            wants.append(
                _Want(
                    key,
                    partition,
                    f"{label}:{condition.kind}{suffix}:missing{once}",
                    f"{where}: missing, upstream has data",
                )
            )
        elif condition.kind == "eager" and _updated_since(snap, key, partition, parents):
            version = _versions(snap, key, partition)
            wants.append(
                _Want(
                    key,
                    partition,
                    f"{label}:eager{suffix}:{version}",
                    f"{where}: upstream updated since it was materialized",
                )
            )
        else:
            reasons.append(f"{where}: up to date")
    fresh = [w for w in wants if snap.storage.get_run_key(AUTOMATION, w.run_key) is None]
    if not fresh:
        return [], "; ".join(reasons[:3]) or (
            "already requested for this change" if wants else "nothing to materialize"
        )
    return fresh, "; ".join(w.reason for w in fresh[:3])


def _updated_since(
    snap: _Snapshot, key: AssetKey, partition: str | None, parents: list[AssetKey]
) -> bool:
    if partition is not None:
        return partition in snap.stale(key)
    own = snap.latest[key].storage_id
    return any(p in snap.latest and snap.latest[p].storage_id > own for p in parents)


def evaluate_conditions(
    definitions: Definitions, storage: RunStorage, *, now: datetime
) -> list[str]:
    """Evaluate every asset's automation condition; claim the runs needed; their run ids.

    The decision for each asset (requested or not, and why) is stored for
    ``raystra assets status`` and the UI (`RunStorage.get_automation_evaluations`).
    """
    conditions: dict[AssetKey, AutomationCondition] = {}
    for assets_def in definitions.assets:
        if isinstance(assets_def, AssetsDefinition) and assets_def.automation_condition:
            for key in assets_def.keys:
                conditions[key] = assets_def.automation_condition
    if not conditions:
        return []
    snap = _Snapshot(definitions, storage)
    requested: set[AssetKey] = set()
    groups: dict[str | None, list[_Want]] = {}
    decided: dict[AssetKey, str] = {}
    for key in definitions.topological_keys:
        condition = conditions.get(key)
        if condition is None:
            continue
        wants, reason = _decide(snap, key, condition, now, requested)
        decided[key] = reason
        if wants:
            requested.add(key)
        for want in wants:
            groups.setdefault(want.partition, []).append(want)
    run_of: dict[AssetKey, str] = {}
    run_ids = []
    for partition, wants in groups.items():
        run_id = str(uuid.uuid4())
        selection = sorted({w.key.to_user_string() for w in wants})
        claimed = False
        for want in wants:
            request = {
                "selection": selection,
                "job": None,
                "partition_key": partition,
                "tags": {"raystra/automation": "true", RUN_KEY_TAG: want.run_key},
                "run_config": {},
            }
            if storage.reserve_run_key(AUTOMATION, want.run_key, run_id=run_id, request=request):
                claimed = True
                run_of[want.key] = run_id
        if claimed:
            run_ids.append(run_id)
    storage.save_automation_evaluations(
        [
            AutomationEvaluation(
                asset_key=key.to_user_string(),
                condition=conditions[key].describe(),
                evaluated_at=now.timestamp(),
                requested=key in run_of,
                reason=reason,
                run_id=run_of.get(key),
            )
            for key, reason in decided.items()
        ]
    )
    return run_ids
