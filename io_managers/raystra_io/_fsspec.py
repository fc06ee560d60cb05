"""`FsspecIOManager`: the base for IO managers that store one file per output through fsspec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any, ClassVar

from raystra.definitions import ConfigurableIOManager, InputContext, OutputContext
from raystra.errors import InputNotFoundError
from raystra_io._atomic import write_atomically
from raystra_io._paths import StorageRoot

__all__ = ["FsspecIOManager", "FsspecStorage", "describe_output", "missing_input_error"]


def describe_output(context: OutputContext) -> str:
    """Name an output for messages: the asset (and partition), or the run, step and output.

    Example:
        >>> from raystra.definitions import AssetKey
        >>> describe_output(OutputContext(run_id="r", step_key="s", asset_key=AssetKey("a")))
        "asset 'a'"
    """
    if context.asset_key is not None:
        label = f"asset {context.asset_key.to_user_string()!r}"
    else:
        label = (
            f"output {context.output_name!r} of step {context.step_key!r} in run {context.run_id!r}"
        )
    if context.partition_key is not None:
        label += f" partition {context.partition_key!r}"
    return label


def _fix_for(context: OutputContext) -> str:
    if context.asset_key is None:
        return (
            f"re-execute run {context.run_id!r} (its step {context.step_key!r} stores this "
            "output), or run the job so the producing op runs first."
        )
    command = f"raystra materialize --select {context.asset_key.to_user_string()}"
    if context.partition_key is not None:
        command += f" --partition {context.partition_key}"
    return f"materialize it first: {command}"


def missing_input_error(context: InputContext, looked_at: list[str]) -> InputNotFoundError:
    """The error for an input with no stored value, naming it, where we looked, and the fix."""
    return InputNotFoundError(
        f"Input {context.name!r} of step {context.step_key!r}: "
        f"{describe_output(context.upstream_output)} has no stored value (looked for "
        f"{' and '.join(looked_at)}). To fix, {_fix_for(context.upstream_output)}"
    )


class FsspecStorage(ConfigurableIOManager):
    """Where the fsspec IO managers store: the configured location and its filesystem.

    The shared base of `FsspecIOManager` (one file per output, written by your hooks) and of
    the built-in Parquet and pickle managers.

    Attributes:
        base_path: Any fsspec URL or local path; default ``$RAYSTRA_HOME/storage``.
        storage_options: Passed to the fsspec filesystem (e.g. ``{"anon": True}`` for s3fs).
    """

    base_path: str | None = None
    storage_options: dict[str, Any] = {}

    def storage(self) -> StorageRoot:
        """The resolved base location (``base_path``, else ``$RAYSTRA_HOME/storage``).

        Example:
            >>> from raystra_io import ParquetIOManager
            >>> ParquetIOManager(base_path="memory://docs").storage().root
            '/docs'
        """
        return StorageRoot.resolve(self.base_path, self.storage_options)

    def open(self, path: str, mode: str = "rb") -> IO[Any]:
        """Open ``path`` (a path the hooks are given) with this manager's storage options.

        Example:
            >>> from raystra_io import ParquetIOManager
            >>> io = ParquetIOManager(base_path="memory://open-example")
            >>> with io.open("memory:///open-example/note.txt", "w") as file:
            ...     _ = file.write("hello")
            >>> io.open("memory:///open-example/note.txt", "r").read()
            'hello'
        """
        file: IO[Any] = self.storage().fs.open(path, mode)
        return file


class FsspecIOManager(FsspecStorage):
    """Base for IO managers that store each output as one file on any fsspec filesystem.

    Subclass it, set `extension` and implement `dump_to_path` and `load_from_path` (Dagster's
    ``UPathIOManager`` hooks, by the same names). The base does the rest: ``base_path`` and
    ``storage_options`` (which may hold `EnvVar` secrets), the layout (``<base>/<asset>.<ext>``,
    Hive-style ``<base>/<asset>/partition=<key>/data.<ext>`` for partitions, run-scoped paths
    for op outputs), atomic commits (a temporary sibling moved into place, so a failed write
    keeps the previous value), `InputNotFoundError` naming the asset and how to build it, and
    ``path``/``byte_size`` metadata. It passes the shared conformance suite
    (`raystra.testing.IOManagerConformance`) once your hooks round-trip values.

    Both hooks get a context whose ``context.path`` is the fully qualified location of the
    value: an fsspec URL (``s3://lake/raw/orders.json``) or an absolute local path, the same
    string recorded as the materialization's ``path``.

    Attributes:
        base_path: Any fsspec URL or local path; default ``$RAYSTRA_HOME/storage``.
        storage_options: Passed to the fsspec filesystem (e.g. ``{"anon": True}`` for s3fs).
        extension: File extension of stored values, without the dot (a class attribute).

    Example:
        >>> import json
        >>> from raystra.definitions import AssetKey, InputContext, OutputContext
        >>> class JsonIOManager(FsspecIOManager):
        ...     extension = "json"
        ...
        ...     def dump_to_path(self, context, obj, path):
        ...         context.log.info("writing %s", context.path)
        ...         with self.open(path, "w") as file:
        ...             json.dump(obj, file)
        ...
        ...     def load_from_path(self, context, path):
        ...         with self.open(path) as file:
        ...             return json.load(file)
        >>> io = JsonIOManager(base_path="memory://json-example")
        >>> out = OutputContext(run_id="r1", step_key="config", asset_key=AssetKey("config"))
        >>> io.handle_output(out, {"threshold": 3})["path"]
        'memory:///json-example/config.json'
        >>> io.load_input(InputContext(name="config", step_key="score", upstream_output=out))
        {'threshold': 3}
    """

    extension: ClassVar[str] = "bin"

    def dump_to_path(self, context: OutputContext, obj: Any, path: str) -> Mapping[str, Any] | None:
        """Write ``obj`` to ``path``; return extra metadata to record (e.g. a row count) or None.

        ``path`` is a temporary sibling of ``context.path`` that raystra moves into place when
        this returns, so write there (with `open`, or a library taking fsspec URLs and
        ``storage_options``); if this raises, the temporary file is removed and
        ``context.path`` keeps its previous value. Override it in a subclass.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement dump_to_path")

    def load_from_path(self, context: InputContext, path: str) -> Any:
        """Read the value stored at ``path`` (which is ``context.path``) and return it.

        Called only when the file exists: a missing one is reported by raystra. Override it
        in a subclass.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement load_from_path")

    def handle_output(self, context: OutputContext, obj: Any) -> Mapping[str, Any] | None:
        """Store ``obj`` (None stores nothing) through `dump_to_path`, atomically."""
        if obj is None:
            return {}
        root = self.storage()
        path = root.path(context, self.extension)
        context = context.with_path(root.url(path))
        extra: dict[str, Any] = {}

        def dump(temp: str) -> None:
            extra.update(self.dump_to_path(context, obj, root.url(temp)) or {})

        size = write_atomically(root.fs, path, dump, sweep=context.earlier_attempt_lost)
        return {**extra, "path": context.path, "byte_size": size}

    def load_input(self, context: InputContext) -> Any:
        """Load ``context.upstream_output`` through `load_from_path`.

        Raises:
            InputNotFoundError: Nothing is stored for the upstream output.
        """
        root = self.storage()
        path = root.path(context.upstream_output, self.extension)
        if not root.is_local:
            # Object-store clients cache listings per process: a long-lived Ray worker must
            # see what another worker committed since it last listed the prefix.
            root.fs.invalidate_cache(path)
        if not root.fs.exists(path):
            raise missing_input_error(context, [root.url(path)])
        context = context.with_path(root.url(path))
        return self.load_from_path(context, context.path)
