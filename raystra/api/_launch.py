"""Starting runs: materialize assets, execute jobs, re-execute runs, and load stored values."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raystra.api._backfill import plan_assets
from raystra.api._monitor import driver_identity, heartbeating
from raystra.api._partitions import PartitionRequest
from raystra.api._storage import reading_storage
from raystra.definitions import (
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    InputContext,
    JobDefinition,
    OutputContext,
    RunConfig,
)
from raystra.definitions._partitions import PartitionKeyRange
from raystra.errors import NothingToRunError, RaystraError, SelectionError, StepExecutionError
from raystra.events import (
    AssetMaterialized,
    ErrorInfo,
    Event,
    OpOutputStored,
    PartitionFailed,
    RunCanceled,
    RunFailed,
    RunStatus,
    RunSucceeded,
    StepFailed,
    now,
)
from raystra.execution import Executor, RunRequest, load_executor, resolve_resources
from raystra.observability import ObservedRun, ObserverGroup, configured_observers
from raystra.planning import (
    AssetSelection,
    ExecutionPlan,
    build_asset_plan,
    build_job_plan,
    validate_run_config,
)
from raystra.storage import (
    BatchingEventWriter,
    RunRecord,
    RunStorage,
)

EventCallback = Callable[[Event], None]


@dataclass
class RunResult:
    """The outcome of a run: status, id, every event, and access to outputs.

    Example:
        >>> from raystra import asset, materialize
        >>> @asset
        ... def answer() -> int:
        ...     return 42
        >>> result = materialize([answer])  # doctest: +SKIP
        >>> result.success, result.output_for("answer")  # doctest: +SKIP
        (True, 42)
    """

    run_id: str
    status: RunStatus
    events: list[Event]
    definitions: Definitions
    plan: ExecutionPlan

    @property
    def success(self) -> bool:
        """True when the run ended SUCCESS."""
        return self.status is RunStatus.SUCCESS

    @property
    def failed_steps(self) -> list[StepFailed]:
        """The final failure event of each failed step."""
        return [e for e in self.events if isinstance(e, StepFailed)]

    @property
    def materializations(self) -> list[AssetMaterialized]:
        """Every asset materialization of the run, in order."""
        return [e for e in self.events if isinstance(e, AssetMaterialized)]

    def output_for(self, key: AssetKey | str, output_name: str = "result") -> Any:
        """Load an output of this run through its IO manager.

        ``key`` is an asset key (``"sales_by_customer"``) or, for job runs, an op node name.
        """
        if self.plan.job_name is None:
            return load_asset_value(self.definitions, key)
        job_def = self.definitions.get_job(self.plan.job_name)
        node_name = key.to_user_string() if isinstance(key, AssetKey) else key
        output = job_def.node(node_name).op.output(output_name)
        resources, _ = resolve_resources(self.definitions, [output.io_manager_key])
        upstream = OutputContext(run_id=self.run_id, step_key=node_name, output_name=output_name)
        return resources[output.io_manager_key].load_input(
            InputContext(name=output_name, step_key="<caller>", upstream_output=upstream)
        )

    asset_value = output_for


def _as_definitions(
    assets_or_definitions: Definitions | Iterable[AssetsDefinition | AssetSpec],
    resources: Mapping[str, Any] | None,
) -> Definitions:
    if isinstance(assets_or_definitions, Definitions):
        if not resources:
            return assets_or_definitions
        # A copy keeps everything else (jobs, pools, schedules, sensors, checks) as defined.
        return assets_or_definitions.with_resources(resources)
    return Definitions(list(assets_or_definitions), resources=resources)


def resolve_selection(defs: Definitions, selection: Any = None) -> frozenset[AssetKey]:
    """Resolve a selection (string, `AssetSelection`, keys, or None for all) to asset keys.

    Raises `SelectionError` when the selection matches nothing raystra can materialize.
    """
    if selection is None:
        return defs.asset_graph.materializable_keys
    keys = AssetSelection.from_coercible(selection).resolve(defs.asset_graph)
    materializable = keys - defs.asset_graph.external
    if not materializable:
        raise SelectionError(
            f"Selection {str(selection)!r} matches no asset raystra can materialize. "
            "`raystra assets list` shows the assets and their groups."
        )
    return frozenset(materializable)


def _run(
    defs: Definitions,
    plan: ExecutionPlan,
    *,
    run_config: RunConfig | Mapping[str, Any] | None,
    executor: str | Executor | None,
    ray_address: str | None = None,
    storage: RunStorage | None,
    raise_on_error: bool,
    tags: Mapping[str, str] | None = None,
    parent_run_id: str | None = None,
    root_run_id: str | None = None,
    on_event: EventCallback | None = None,
    max_concurrent: int | None = None,
    should_cancel: Callable[[], bool] | None = None,
    on_run_id: Callable[[str], None] | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Validate config, then record and execute the run (closing storage it opened itself)."""
    step_config = validate_run_config(defs, plan, run_config)
    chosen = load_executor(executor, ray_address=ray_address)
    observers = configured_observers()
    traceparent = observers.traceparent()
    record = RunRecord(
        run_id=run_id or str(uuid.uuid4()),
        job_name=plan.job_name,
        selection=plan.step_keys,
        run_config={"ops": {key: {"config": cfg} for key, cfg in step_config.items()}},
        tags=dict(tags or {}),
        parent_run_id=parent_run_id,
        root_run_id=root_run_id,
        executor=chosen.name,
        created_at=now(),
        trace_context=traceparent,
        **driver_identity(),
    )
    request = RunRequest(
        run_id=record.run_id,
        definitions=defs,
        step_config=step_config,
        max_concurrent=max_concurrent,
        should_cancel=should_cancel,
        traceparent=traceparent,
    )
    with reading_storage(storage) as store:
        store.add_run(record)
        if on_run_id is not None:
            on_run_id(record.run_id)
        observed = ObservedRun(
            run_id=record.run_id,
            plan=plan,
            definitions=defs,
            executor=chosen.name,
            job_name=plan.job_name,
            tags=record.tags,
            traceparent=traceparent,
            stored_path=_stored_paths(store),
        )
        with heartbeating(store, record.run_id):
            events, status = _stream_events(
                chosen, plan, request, store, on_event, observers, observed
            )
    result = RunResult(
        run_id=record.run_id, status=status, events=events, definitions=defs, plan=plan
    )
    if raise_on_error and not result.success:
        raise StepExecutionError(_failure_summary(result))
    return result


def _stream_events(
    executor: Executor,
    plan: ExecutionPlan,
    request: RunRequest,
    storage: RunStorage,
    on_event: EventCallback | None,
    observers: ObserverGroup,
    observed: ObservedRun,
) -> tuple[list[Event], RunStatus]:
    """Write the executor's events in batches and derive the run's final status from them.

    Every event also goes to the run's observers (traces, metrics, OpenLineage), including
    telemetry that storage does not keep (`StepSpans`): the writer hands them each batch once
    stored, and the run's end once the last batch has gone to them.
    """
    run_id = request.run_id
    events: list[Event] = []
    status = RunStatus.STARTED

    def record(event: Event) -> None:
        nonlocal status
        if event.stored or observers:  # telemetry events only travel to observers
            writer.write(event)
        if not event.stored:
            return
        events.append(event)
        if isinstance(event, StepFailed):
            # Partition status follows its step: each partition the step covered failed.
            for failed in _partitions_failed(plan, event):
                writer.write(failed)
                events.append(failed)
        if isinstance(event, RunFailed):
            status = RunStatus.FAILURE
        elif isinstance(event, RunCanceled):
            status = RunStatus.CANCELED
        elif isinstance(event, RunSucceeded):
            status = RunStatus.SUCCESS
        if on_event is not None:
            on_event(event)

    def record_live(batch: Sequence[Event]) -> None:
        # Running steps' log lines, from the live-log thread or the Ray driver loop: the
        # writer is thread-safe, and its background thread stores them within max_delay_s.
        for event in batch:
            record(event)

    # The executor hands running steps' log lines over as they come (shown while a step runs).
    request = dataclasses.replace(request, live_events=record_live)
    observers.run_started(observed)
    # Batches of 250 cost about what batches of 500 do per event, and halve what is left to
    # store when the run ends (the last batch is stored before the run returns).
    # Observers take each batch from the writer once it is stored, so their work runs in
    # batches (warm: cheaper per event) and off the executor's loop.
    writing = BatchingEventWriter(
        storage,
        max_batch=250,
        background=True,
        on_stored=observers.observe_batch if observers else None,
    )
    # Observers hear the run ended only after the writer closed: every event has reached them.
    with _finishing(observers, lambda: status), writing as writer:
        try:
            for event in executor.execute(plan, request):
                record(event)
        except KeyboardInterrupt:
            record(RunCanceled(run_id=run_id, reason="interrupted (Ctrl-C or SIGTERM)"))
            raise
        except SystemExit:
            # A signal handler that exits (Ray's own SIGTERM handler does): still recorded.
            record(RunCanceled(run_id=run_id, reason="the process was asked to exit"))
            raise
        except Exception as exc:
            # An engine error, not a step error: the run must not stay "in progress".
            record(
                RunFailed(
                    run_id=run_id,
                    error=ErrorInfo.from_exception(exc),
                    reason=f"executor {executor.name!r} failed: {exc}",
                )
            )
            raise
        if not status.is_finished:
            record(RunFailed(run_id=run_id, reason="executor stopped without finishing the run"))
    return events, status


def _stored_paths(store: RunStorage) -> Callable[[AssetKey], tuple[str, bool] | None]:
    """Asset -> (path of its latest materialization, partitioned?), asked once per asset."""

    @functools.cache
    def stored_path(key: AssetKey) -> tuple[str, bool] | None:
        latest = store.get_materializations(key, limit=1)
        path = latest[0].metadata.get("path") if latest else None
        if not isinstance(path, str) or not path:
            return None
        return path, latest[0].partition is not None

    return stored_path


@contextlib.contextmanager
def _finishing(observers: ObserverGroup, status: Callable[[], RunStatus]) -> Iterator[None]:
    """Tell observers the run ended (with its final status) however the block exits."""
    try:
        yield
    finally:
        observers.run_finished(status())


def _partitions_failed(plan: ExecutionPlan, event: StepFailed) -> list[PartitionFailed]:
    step = plan.step(event.step_key)
    reason = f"step {step.key!r} failed: {event.error.type_name if event.error else 'error'}"
    return [
        PartitionFailed(
            run_id=event.run_id,
            step_key=step.key,
            asset_key=key,
            partition=partition,
            reason=reason,
        )
        for key in step.asset_keys
        for partition in (step.partition_keys or (None,))
    ]


def run_plan(defs: Definitions, plan: ExecutionPlan, **options: Any) -> RunResult:
    """Run an already-built plan (backfills, re-execution); options as for `materialize`."""
    return _run(
        defs,
        plan,
        run_config=options.pop("run_config", None),
        executor=options.pop("executor", None),
        storage=options.pop("storage", None),
        raise_on_error=options.pop("raise_on_error", True),
        **options,
    )


def _failure_summary(result: RunResult) -> str:
    failures = result.failed_steps
    if not failures:
        return f"Run {result.run_id} ended {result.status.value}."
    first = failures[0]
    others = f" ({len(failures) - 1} more step(s) failed)" if len(failures) > 1 else ""
    return (
        f"Run {result.run_id} failed: step {first.step_key!r} raised {first.error.type_name}: "
        f"{first.error.message}{others}. `raystra runs show {result.run_id}` has the traceback."
    )


def materialize(
    assets_or_definitions: Definitions | Iterable[AssetsDefinition | AssetSpec],
    selection: Any = None,
    *,
    resources: Mapping[str, Any] | None = None,
    run_config: RunConfig | Mapping[str, Any] | None = None,
    executor: str | Executor | None = None,
    ray_address: str | None = None,
    raise_on_error: bool = True,
    storage: RunStorage | None = None,
    tags: Mapping[str, str] | None = None,
    on_event: EventCallback | None = None,
    max_concurrent: int | None = None,
    partition_key: str | None = None,
    partition_range: PartitionKeyRange | str | None = None,
    stale_only: bool = False,
    run_id: str | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> RunResult:
    """Materialize assets: plan the selection, run it, record everything.

    Args:
        assets_or_definitions: A `Definitions`, or a list of assets and specs.
        selection: A selection string (``"+revenue_report"``), an `AssetSelection`, asset keys,
            or None for every asset.
        resources: Resources to add to (or override in) the definitions.
        run_config: Config per step, as ``{"ops": {name: {"config": {...}}}}`` or `RunConfig`.
        executor: ``"ray"`` (the default, or ``$RAYSTRA_EXECUTOR``), ``"in_process"`` (one step
            after another in this process, for debugging), or an `Executor` instance.
        ray_address: Ray cluster to attach to (``auto``, ``ray://host:10001``); default
            ``$RAY_ADDRESS``, else a local Ray started once per process.
        max_concurrent: Most steps of this run running at once.
        partition_key: The partition to materialize, for partitioned assets.
        partition_range: A range of partitions (``PartitionKeyRange`` or ``"A...B"``), one
            step per partition (or per batch, with a `BackfillPolicy`).
        stale_only: Run only what is stale (code version changed, or an upstream partition
            it read was materialized again since).
        raise_on_error: Raise `StepExecutionError` if the run does not succeed.
        storage: Run storage; defaults to `raystra.storage.open_storage()`.
        run_id: The new run's id (default a fresh UUID); a launcher that hands the id out
            before the run starts (the web UI's) chooses it.
        should_cancel: Polled while the run goes on; once it returns True the run stops and
            is recorded CANCELED (the daemon's runs, when it gets SIGTERM).

    Example:
        >>> from raystra import asset
        >>> @asset
        ... def numbers() -> list[int]:
        ...     return [1, 2, 3]
        >>> materialize([numbers]).success  # doctest: +SKIP
        True
    """
    defs = _as_definitions(assets_or_definitions, resources)
    keys = resolve_selection(defs, selection)
    request = partition_request(partition_key, partition_range)
    if request is None and not stale_only and not defs.partitioned:
        plan = build_asset_plan(defs, keys)
    else:
        with reading_storage(storage) as store:
            plan = plan_assets(defs, keys, request, store, only="stale" if stale_only else None)
        if stale_only and not plan.steps:
            raise NothingToRunError(
                "Nothing is stale in the selection: every materialized asset (partition) is "
                "up to date with its code version and upstream data. No run was recorded."
            )
    return _run(
        defs,
        plan,
        run_config=run_config,
        executor=executor,
        ray_address=ray_address,
        storage=storage,
        raise_on_error=raise_on_error,
        tags=tags,
        on_event=on_event,
        max_concurrent=max_concurrent,
        run_id=run_id,
        should_cancel=should_cancel,
    )


def partition_request(
    partition_key: str | None, partition_range: PartitionKeyRange | str | None
) -> PartitionRequest | None:
    """The `PartitionRequest` for materialize's partition options (None: none given)."""
    if partition_key is not None and partition_range is not None:
        raise SelectionError("Pass partition_key or partition_range, not both.")
    if partition_key is not None:
        return PartitionRequest(keys=(partition_key,))
    if isinstance(partition_range, str):
        start, sep, end = partition_range.partition("...")
        if not sep or not start or not end:
            raise SelectionError(
                f"Partition range {partition_range!r} should look like 'FIRST...LAST', e.g. "
                "'2024-01-01...2024-01-31' (both ends included)."
            )
        partition_range = PartitionKeyRange(start, end)
    if partition_range is not None:
        return PartitionRequest(key_range=partition_range)
    return None


def execute_job(
    job_or_definitions: JobDefinition | Definitions,
    job_name: str | None = None,
    *,
    resources: Mapping[str, Any] | None = None,
    run_config: RunConfig | Mapping[str, Any] | None = None,
    executor: str | Executor | None = None,
    ray_address: str | None = None,
    raise_on_error: bool = True,
    storage: RunStorage | None = None,
    tags: Mapping[str, str] | None = None,
    on_event: EventCallback | None = None,
    max_concurrent: int | None = None,
    run_id: str | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> RunResult:
    """Run an op-based job (Dagster's ``job.execute_in_process`` equivalent).

    Example:
        >>> from raystra import job, op
        >>> @op
        ... def hello() -> str:
        ...     return "hi"
        >>> @job
        ... def greet():
        ...     hello()
        >>> execute_job(greet).success  # doctest: +SKIP
        True
    """
    if isinstance(job_or_definitions, JobDefinition):
        defs = Definitions(jobs=[job_or_definitions], resources=resources)
        job_def = job_or_definitions
    else:
        defs = _as_definitions(job_or_definitions, resources)
        if job_name is None:
            raise RaystraError(
                f"execute_job needs a job name; jobs: {', '.join(sorted(defs.jobs)) or 'none'}."
            )
        job_def = defs.get_job(job_name)
    plan = build_job_plan(defs, job_def)
    return _run(
        defs,
        plan,
        run_config=run_config,
        executor=executor,
        ray_address=ray_address,
        storage=storage,
        raise_on_error=raise_on_error,
        tags=tags,
        on_event=on_event,
        max_concurrent=max_concurrent,
        run_id=run_id,
        should_cancel=should_cancel,
    )


def _steps_to_rerun(storage: RunStorage, run: RunRecord, from_failure: bool) -> list[str]:
    if not from_failure:
        return list(run.selection)
    stats = {s.step_key: s for s in storage.get_step_stats(run.run_id)}
    return [key for key in run.selection if key not in stats or stats[key].status != "SUCCESS"]


def _output_run_ids(storage: RunStorage, run: RunRecord) -> dict[str, str]:
    """Which run last stored each op's outputs, walking the re-execution chain back."""
    found: dict[str, str] = {}
    current: RunRecord | None = run
    while current is not None:
        for stored in storage.get_events(current.run_id, kinds=[OpOutputStored.kind]):
            event = stored.event
            assert isinstance(event, OpOutputStored)
            found.setdefault(event.step_key, current.run_id)
        current = storage.get_run(current.parent_run_id) if current.parent_run_id else None
    return found


def reexecute(
    definitions: Definitions,
    run_id: str,
    *,
    from_failure: bool = True,
    executor: str | Executor | None = None,
    ray_address: str | None = None,
    storage: RunStorage | None = None,
    raise_on_error: bool = False,
    on_event: EventCallback | None = None,
    max_concurrent: int | None = None,
    new_run_id: str | None = None,
) -> RunResult:
    """Run a previous run again; with ``from_failure`` only its failed and skipped steps.

    Steps not re-run hand over nothing in memory: their outputs load from storage (the latest
    materialization for assets, the run that stored them for op outputs). ``new_run_id`` sets
    the new run's id (default a fresh UUID).

    Example:
        >>> reexecute(defs, "3f2a", from_failure=True)  # doctest: +SKIP
    """
    with reading_storage(storage) as store:
        parent = store.get_run(run_id)
        steps = _steps_to_rerun(store, parent, from_failure)
        output_run_ids = _output_run_ids(store, parent) if parent.job_name else {}
    if not steps:
        raise RaystraError(
            f"Run {parent.run_id} has no failed or skipped steps to re-execute; use "
            "`raystra reexecute RUN` without --from-failure to run all of its steps again."
        )
    if parent.job_name is not None:
        job_def = definitions.get_job(parent.job_name)
        plan = build_job_plan(
            definitions,
            job_def,
            node_names=steps,
            output_run_ids=output_run_ids,
        )
    else:
        keys: list[AssetKey] = []
        for step_key in steps:
            try:
                keys.extend(definitions.get_node_by_step_key(step_key).keys)
            except KeyError:
                raise SelectionError(
                    f"Run {parent.run_id} ran step {step_key!r}, which the current definitions "
                    "no longer have; materialize the assets you need instead."
                ) from None
        plan = build_asset_plan(definitions, keys)
    parent_ops = dict(parent.run_config).get("ops", {})
    return _run(
        definitions,
        plan,
        run_config={"ops": {k: v for k, v in parent_ops.items() if k in plan.step_keys}},
        executor=executor,
        ray_address=ray_address,
        storage=storage,
        raise_on_error=raise_on_error,
        tags={**parent.tags, "raystra/parent_run_id": parent.run_id},
        parent_run_id=parent.run_id,
        root_run_id=parent.root_run_id or parent.run_id,
        on_event=on_event,
        max_concurrent=max_concurrent,
        run_id=new_run_id,
    )


def load_asset_value(definitions: Definitions, key: AssetKey | str | Sequence[str]) -> Any:
    """Load an asset's stored value through its IO manager (like Dagster's ``load_asset_value``).

    Example:
        >>> load_asset_value(defs, "sales_by_customer")  # doctest: +SKIP
    """
    asset_key = AssetKey.from_coercible(key)
    definition = definitions.get_definition(asset_key)
    io_key = (
        definition.io_manager_key
        if isinstance(definition, AssetSpec)
        else definition.output_for_key(asset_key).io_manager_key
    )
    resources, _ = resolve_resources(definitions, [io_key])
    upstream = OutputContext(run_id="", step_key="", asset_key=asset_key)
    return resources[io_key].load_input(
        InputContext(name=asset_key.name, step_key="<caller>", upstream_output=upstream)
    )
