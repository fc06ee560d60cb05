"""What a schedule or sensor runs: an asset selection or an op job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raystra.definitions import AssetKey, Definitions, JobDefinition
from raystra.errors import InvalidDefinitionError, RaystraError
from raystra.planning import AssetSelection

if TYPE_CHECKING:
    from raystra.automation._requests import RunRequest

__all__ = ["AutomationTarget"]


@dataclass(frozen=True)
class AutomationTarget:
    """A target, normalized: exactly one of ``selection`` and ``job`` is set.

    Example:
        >>> str(AutomationTarget.coerce("group:sales", where="schedule 'daily'").selection)
        'group:sales'
    """

    selection: AssetSelection | None = None
    job: JobDefinition | None = None

    @classmethod
    def coerce(cls, target: Any, *, where: str) -> AutomationTarget:
        """Accept a selection string, `AssetSelection`, keys, asset definitions or a `@job`."""
        if isinstance(target, AutomationTarget):
            return target
        if isinstance(target, JobDefinition):
            return cls(job=target)
        if target is None:
            raise InvalidDefinitionError(
                f"{where} has no target: pass target='asset_name', a selection such as "
                "'group:sales', an AssetSelection, asset definitions, or a @job."
            )
        try:
            return cls(selection=AssetSelection.from_coercible(target))
        except RaystraError as err:
            raise InvalidDefinitionError(f"{where}: bad target {target!r}: {err}") from None

    def describe(self) -> str:
        """``job:NAME`` or the selection in selection syntax."""
        return f"job:{self.job.name}" if self.job is not None else str(self.selection)

    def asset_keys(self, definitions: Definitions) -> frozenset[AssetKey]:
        """The asset keys this target materializes (empty for a job)."""
        if self.selection is None:
            return frozenset()
        return self.selection.resolve(definitions.asset_graph)

    def validate(self, definitions: Definitions, *, where: str) -> frozenset[AssetKey]:
        """The target's keys; a raystra error naming ``where`` when any is unknown or empty."""
        if self.job is not None:
            if definitions.jobs.get(self.job.name) is not self.job:
                raise InvalidDefinitionError(
                    f"{where} targets job {self.job.name!r}, which is not in "
                    "Definitions(jobs=...); add it there."
                )
            return frozenset()
        try:
            keys = self.asset_keys(definitions)
        except RaystraError as err:
            raise type(err)(f"{where} targets an unknown asset: {err}") from None
        if not keys:
            raise InvalidDefinitionError(
                f"{where}: target {self.describe()!r} selects no asset; check the selection "
                "with `raystra assets list --select ...`."
            )
        external = sorted(k.to_user_string() for k in keys if k in definitions.asset_graph.external)
        if external:
            raise InvalidDefinitionError(
                f"{where} targets external asset(s) {', '.join(external)}, which raystra never "
                "materializes; target the assets that read them instead."
            )
        return keys

    def keys_for(self, definitions: Definitions, request: RunRequest) -> tuple[str, ...]:
        """Step selection of one run: the request's own keys, or the whole target."""
        narrowed = request.asset_keys
        keys = self.asset_keys(definitions) if narrowed is None else frozenset(narrowed)
        return tuple(sorted(k.to_user_string() for k in keys))
