"""`AutomationCondition`: when the daemon materializes an asset on its own.

Conditions are data; `raystra.automation` evaluates them on every daemon iteration (see
docs/automation.md for the exact rules of each).
"""

from __future__ import annotations

from dataclasses import dataclass

from raystra.definitions._cron import check_cron, check_timezone

__all__ = ["AutomationCondition"]


@dataclass(frozen=True)
class AutomationCondition:
    """A declarative rule for materializing an asset; build one with the class methods.

    * `eager`: materialize when an upstream asset (partition) was updated since this one was,
      or when this one is missing and its upstreams are not.
    * `on_cron`: once per cron tick, after every upstream asset was updated since the tick.
    * `on_missing`: once, when the asset (partition) was never materialized and its upstreams
      have data.

    Example:
        >>> AutomationCondition.on_cron("0 6 * * *").describe()
        "on_cron('0 6 * * *', UTC)"
    """

    kind: str
    cron_schedule: str | None = None
    cron_timezone: str = "UTC"

    @classmethod
    def eager(cls) -> AutomationCondition:
        """Materialize whenever upstream data changed (Dagster's ``eager()``).

        Example:
            >>> AutomationCondition.eager().kind
            'eager'
        """
        return cls("eager")

    @classmethod
    def on_cron(cls, cron_schedule: str, cron_timezone: str = "UTC") -> AutomationCondition:
        """Materialize once per tick of ``cron_schedule``, after upstreams updated since then.

        Example:
            >>> AutomationCondition.on_cron("0 * * * *", "Europe/Paris").cron_timezone
            'Europe/Paris'
        """
        check_cron(cron_schedule, where="AutomationCondition.on_cron")
        check_timezone(cron_timezone, where="AutomationCondition.on_cron")
        return cls("on_cron", cron_schedule, cron_timezone)

    @classmethod
    def on_missing(cls) -> AutomationCondition:
        """Materialize a missing asset (partition) once its upstreams have data.

        Example:
            >>> AutomationCondition.on_missing().describe()
            'on_missing()'
        """
        return cls("on_missing")

    def describe(self) -> str:
        """How the condition reads in the CLI and UI.

        Example:
            >>> AutomationCondition.eager().describe()
            'eager()'
        """
        if self.kind == "on_cron":
            return f"on_cron({self.cron_schedule!r}, {self.cron_timezone})"
        return f"{self.kind}()"
