"""Which assets are overdue under their `FreshnessPolicy`, from the materialization index.

Example:
    >>> from datetime import UTC, datetime
    >>> from raystra import Definitions
    >>> from raystra.storage import open_storage
    >>> asset_freshness(Definitions(), open_storage("sqlite://"), now=datetime.now(UTC))
    []
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from raystra.definitions import AssetKey, Definitions
from raystra.definitions._freshness import FreshnessPolicy
from raystra.storage import RunStorage

__all__ = ["AssetFreshness", "asset_freshness", "freshness_policies"]


@dataclass(frozen=True, kw_only=True)
class AssetFreshness:
    """One asset's freshness at ``now``: its policy, newest data, and since when it is overdue.

    Example:
        >>> from datetime import UTC, datetime
        >>> now = datetime(2024, 1, 1, 12, tzinfo=UTC)
        >>> f = AssetFreshness(asset_key=AssetKey("a"), now=now,
        ...     policy=FreshnessPolicy(maximum_lag_minutes=60),
        ...     last_materialized_at=None, overdue_since=now)
        >>> f.overdue, f.minutes_overdue
        (True, 0.0)
    """

    asset_key: AssetKey
    policy: FreshnessPolicy
    now: datetime
    last_materialized_at: float | None
    overdue_since: datetime | None

    @property
    def overdue(self) -> bool:
        """True when the asset misses its policy at ``now``."""
        return self.overdue_since is not None

    @property
    def minutes_overdue(self) -> float | None:
        """How long it has been overdue, in minutes (None while fresh)."""
        if self.overdue_since is None:
            return None
        return max(0.0, (self.now - self.overdue_since).total_seconds() / 60)

    @property
    def lag_minutes(self) -> float | None:
        """Age of the newest materialization at ``now``, in minutes (None: never)."""
        if self.last_materialized_at is None:
            return None
        return max(0.0, (self.now.timestamp() - self.last_materialized_at) / 60)


def freshness_policies(definitions: Definitions) -> dict[AssetKey, FreshnessPolicy]:
    """Every asset key with a freshness policy, and the policy."""
    found: dict[AssetKey, FreshnessPolicy] = {}
    for assets_def in definitions.assets:
        if assets_def.freshness_policy is not None:
            for key in assets_def.keys:
                found[key] = assets_def.freshness_policy
    return found


def asset_freshness(
    definitions: Definitions,
    storage: RunStorage,
    *,
    now: datetime,
    keys: Iterable[AssetKey] | None = None,
) -> list[AssetFreshness]:
    """Freshness of every asset with a policy (only ``keys`` when given), in key order."""
    policies = freshness_policies(definitions)
    if keys is not None:
        wanted = set(keys)
        policies = {k: p for k, p in policies.items() if k in wanted}
    if not policies:
        return []
    latest = storage.latest_materializations(list(policies))
    result = []
    for key in sorted(policies):
        record = latest.get(key)
        last = record.timestamp if record is not None else None
        result.append(
            AssetFreshness(
                asset_key=key,
                policy=policies[key],
                now=now,
                last_materialized_at=last,
                overdue_since=policies[key].overdue_since(last_materialized=last, now=now),
            )
        )
    return result
