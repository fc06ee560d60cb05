"""What raystra's OpenLineage events say: run ids, dataset names and facets.

`OpenLineageObserver` (``_openlineage``) decides when to emit; this module builds each event
with the official ``openlineage-python`` client's classes, which validate every field.

Example:
    >>> storage_dataset("/data/raw/orders.parquet")
    ('file', '/data/raw/orders.parquet')
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from raystra.definitions import (
    Definitions,
    MultiPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)
from raystra.errors import RaystraError
from raystra.observability import _attributes as attrs
from raystra.planning import Step

__all__ = [
    "ASSET_RUN_JOB",
    "EventFactory",
    "LineageDataset",
    "nominal_window",
    "openlineage_run_id",
    "schema_of",
    "storage_dataset",
]

# The parent job of asset runs (job runs use the job's name).
ASSET_RUN_JOB = "materialize"
# uuid5 namespace of step attempt run ids: fixed forever, so ids can be recomputed anywhere.
_RUN_ID_NAMESPACE = uuid.UUID("6f1b7a52-3c1e-5c8e-9d0a-2a5f0e7c4b19")


def openlineage_run_id(run_id: str, step_key: str | None = None, attempt: int = 1) -> str:
    """The OpenLineage run id of a raystra run (no ``step_key``) or of one step attempt.

    A run's id is its raystra run id (a UUID). An attempt's is a UUID derived from the run id,
    step key and attempt number, so it can be recomputed anywhere, e.g. to find an attempt in
    a lineage server from `raystra runs show`.

    Example:
        >>> run = "0b0f6a34-8a3f-4c2b-9a51-1c0d7a1e2f3a"
        >>> openlineage_run_id(run)
        '0b0f6a34-8a3f-4c2b-9a51-1c0d7a1e2f3a'
        >>> openlineage_run_id(run, "orders", 1) == openlineage_run_id(run, "orders", 1)
        True
    """
    if step_key is None:
        try:
            return str(uuid.UUID(run_id))
        except ValueError:
            return str(uuid.uuid5(_RUN_ID_NAMESPACE, run_id))
    return str(uuid.uuid5(_RUN_ID_NAMESPACE, f"{run_id}\0{step_key}\0{attempt}"))


def storage_dataset(path: str, *, partitioned: bool = False) -> tuple[str, str]:
    """OpenLineage (namespace, name) of a storage path, after OpenLineage's naming conventions.

    Local paths are ``file`` + absolute path; object stores are ``<scheme>://<bucket>`` + key.
    With ``partitioned``, trailing hive-style ``key=value`` directories (and the data file
    inside them) are dropped: a partitioned asset is one dataset, its table directory.

    Example:
        >>> storage_dataset("/data/raw/orders.parquet")
        ('file', '/data/raw/orders.parquet')
        >>> storage_dataset("s3://lake/raw/orders/partition=2024-01-01/data.parquet",
        ...                 partitioned=True)
        ('s3://lake', 'raw/orders')
    """
    if partitioned:
        path = _table_root(path)
    parts = urlsplit(path)
    scheme = parts.scheme.lower()
    if len(scheme) <= 1:  # a plain path (or a Windows drive letter)
        return "file", os.path.abspath(path) if len(scheme) == 0 else path
    if scheme == "file":
        host = parts.netloc if parts.netloc not in ("", "localhost") else ""
        return (f"file://{host}" if host else "file"), parts.path
    if scheme in ("s3", "s3a", "s3n", "gs", "gcs"):
        bucket_scheme = "gs" if scheme == "gcs" else ("s3" if scheme.startswith("s3") else scheme)
        return f"{bucket_scheme}://{parts.netloc}", parts.path.lstrip("/")
    return f"{scheme}://{parts.netloc}", parts.path


def _table_root(path: str) -> str:
    parts = path.rstrip("/").split("/")
    if len(parts) >= 2 and "=" not in parts[-1] and "=" in parts[-2]:
        parts.pop()  # the data file inside the partition's directory
    if "=" not in parts[-1]:
        return path  # not a hive-style layout: the path itself is the dataset
    while len(parts) > 1 and "=" in parts[-1]:
        parts.pop()
    return "/".join(parts)


@dataclass(frozen=True)
class LineageDataset:
    """A dataset as OpenLineage names it, with the columns recorded for it (if any).

    Example:
        >>> LineageDataset(*storage_dataset("/data/orders.parquet"), (("id", "int64"),)).name
        '/data/orders.parquet'
    """

    namespace: str
    name: str
    schema: tuple[tuple[str, str], ...] | None = None


def schema_of(recorded: Any) -> tuple[tuple[str, str], ...] | None:
    """(name, type) of each column the IO manager recorded, if it recorded a schema.

    Example:
        >>> schema_of([{"name": "id", "type": "int64"}])
        (('id', 'int64'),)
    """
    if not isinstance(recorded, list | tuple):
        return None
    fields = [
        (str(column["name"]), str(column.get("type", "")))
        for column in recorded
        if isinstance(column, Mapping) and "name" in column
    ]
    return tuple(fields) or None


def nominal_window(definitions: Definitions, step: Step) -> tuple[datetime, datetime] | None:
    """The time window a time-partitioned step covers: start of its first partition to end of
    its last (a multi-partitioned asset's time dimension counts); None for other steps.

    Example:
        >>> from raystra.planning import Step
        >>> nominal_window(None, Step(key="a", node_name="a", kind="asset")) is None
        True
    """
    if not step.partition_keys or not step.asset_keys:
        return None
    partitions_def = definitions.partitions_def_for(step.asset_keys[0])
    windows = []
    for key in step.partition_keys:
        try:
            window = _time_window(partitions_def, key)
        except RaystraError:  # a key that names no window: lineage goes on without the facet
            return None
        if window is None:
            return None
        windows.append(window)
    return min(w[0] for w in windows), max(w[1] for w in windows)


def _time_window(partitions_def: Any, key: str) -> tuple[datetime, datetime] | None:
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        window = partitions_def.time_window_for_partition_key(key)
        return window.start, window.end
    if isinstance(partitions_def, MultiPartitionsDefinition):
        keys = partitions_def.to_multi_key(key).keys_by_dimension
        for name, dimension in partitions_def.partitions_defs.items():
            if isinstance(dimension, TimeWindowPartitionsDefinition):
                window = dimension.time_window_for_partition_key(keys[name])
                return window.start, window.end
    return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class EventFactory:
    """Builds ``openlineage.client`` run events (the client's classes validate every field).

    Example:
        >>> factory = EventFactory("raystra")
        >>> factory.bind_run("0b0f6a34-8a3f-4c2b-9a51-1c0d7a1e2f3a", "materialize", "ray")
        >>> event = factory.run_event("START", datetime(2024, 1, 1, tzinfo=UTC))
        >>> event.eventType.value, event.job.name, event.eventTime
        ('START', 'materialize', '2024-01-01T00:00:00+00:00')
    """

    def __init__(self, namespace: str) -> None:
        from openlineage.client import event_v2, facet_v2
        from openlineage.client.constants import __version__ as client_version

        self.namespace = namespace
        self._ol = event_v2
        self._facet = facet_v2
        self._client_version = client_version
        self.producer = f"urn:raystra:{_raystra_version()}"
        self._run_uuid = ""
        self._job_name = ASSET_RUN_JOB
        self._executor = "in_process"

    def bind_run(self, run_uuid: str, job_name: str, executor: str) -> None:
        """Set the raystra run every later event belongs to (the parent of step runs)."""
        self._run_uuid = run_uuid
        self._job_name = job_name
        self._executor = executor

    def run_event(
        self, state: str, at: datetime, *, error: tuple[str, str | None] | None = None
    ) -> Any:
        """A ``state`` event of the raystra run itself, at ``at``."""
        f = self._facet
        facets: dict[str, Any] = {
            "processing_engine": f.processing_engine_run.ProcessingEngineRunFacet(
                version=_raystra_version(),
                name="raystra",
                openlineageAdapterVersion=self._client_version,
                producer=self.producer,
            ),
            "tags": self._tags({attrs.EXECUTOR: self._executor}),
        }
        if error is not None:
            facets["errorMessage"] = self._error(error)
        return self._event(
            state, at, self._run_uuid, self._job_name, "JOB", facets, inputs=[], outputs=[]
        )

    def step_event(
        self,
        state: str,
        at: datetime,
        *,
        job_name: str,
        job_type: str,
        run_uuid: str,
        tags: Mapping[str, str],
        window: tuple[datetime, datetime] | None,
        inputs: Sequence[LineageDataset],
        outputs: Sequence[tuple[LineageDataset, Sequence[Mapping[str, Any]]]],
        error: tuple[str, str | None] | None = None,
    ) -> Any:
        """A ``state`` event of one step attempt (``run_uuid``), its datasets and facets."""
        f = self._facet
        parent = f.parent_run
        facets: dict[str, Any] = {
            "parent": parent.ParentRunFacet(
                run=parent.Run(runId=self._run_uuid),
                job=parent.Job(namespace=self.namespace, name=self._job_name),
                producer=self.producer,
            ),
            "tags": self._tags(tags),
        }
        if window is not None:
            facets["nominalTime"] = f.nominal_time_run.NominalTimeRunFacet(
                nominalStartTime=_iso(window[0]),
                nominalEndTime=_iso(window[1]),
                producer=self.producer,
            )
        if error is not None:
            facets["errorMessage"] = self._error(error)
        return self._event(
            state,
            at,
            run_uuid,
            job_name,
            job_type,
            facets,
            inputs=[
                self._ol.InputDataset(d.namespace, d.name, facets=self._dataset_facets(d))
                for d in inputs
            ],
            outputs=[self._output(d, written) for d, written in outputs],
        )

    def _event(
        self,
        state: str,
        at: datetime,
        run_uuid: str,
        job_name: str,
        job_type: str,
        run_facets: dict[str, Any],
        *,
        inputs: list[Any],
        outputs: list[Any],
    ) -> Any:
        job_facets: dict[str, Any] = {
            "jobType": self._facet.job_type_job.JobTypeJobFacet(
                processingType="BATCH",
                integration="RAYSTRA",
                jobType=job_type,
                producer=self.producer,
            )
        }
        return self._ol.RunEvent(
            eventType=self._ol.RunState(state),
            eventTime=_iso(at),
            run=self._ol.Run(runId=run_uuid, facets=run_facets),
            job=self._ol.Job(namespace=self.namespace, name=job_name, facets=job_facets),
            inputs=inputs,
            outputs=outputs,
            producer=self.producer,
        )

    def _tags(self, tags: Mapping[str, str]) -> Any:
        tags_run = self._facet.tags_run
        return tags_run.TagsRunFacet(
            tags=[
                tags_run.TagsRunFacetFields(key=k, value=v, source="RAYSTRA")
                for k, v in tags.items()
            ],
            producer=self.producer,
        )

    def _error(self, error: tuple[str, str | None]) -> Any:
        return self._facet.error_message_run.ErrorMessageRunFacet(
            message=error[0],
            programmingLanguage="python",
            stackTrace=error[1] or None,
            producer=self.producer,
        )

    def _dataset_facets(self, dataset: LineageDataset) -> dict[str, Any]:
        if not dataset.schema:
            return {}
        schema = self._facet.schema_dataset
        fields = [
            schema.SchemaDatasetFacetFields(name=n, type=t or None) for n, t in dataset.schema
        ]
        return {"schema": schema.SchemaDatasetFacet(fields=fields, producer=self.producer)}

    def _output(self, dataset: LineageDataset, written: Sequence[Mapping[str, Any]]) -> Any:
        output_facets: dict[str, Any] = {}
        rows = [m.get("row_count") for m in written]
        sizes = [m.get("byte_size") for m in written]
        if written and all(isinstance(r, int) for r in rows):
            stats = self._facet.output_statistics_output_dataset
            output_facets["outputStatistics"] = stats.OutputStatisticsOutputDatasetFacet(
                rowCount=sum(r for r in rows if isinstance(r, int)),
                size=sum(s for s in sizes if isinstance(s, int))
                if all(isinstance(s, int) for s in sizes)
                else None,
                fileCount=len(written),
                producer=self.producer,
            )
        return self._ol.OutputDataset(
            dataset.namespace,
            dataset.name,
            facets=self._dataset_facets(dataset),
            outputFacets=output_facets,
        )


def _raystra_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("raystra")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "0"
