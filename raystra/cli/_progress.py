"""Following a run as it happens, then summarising it: shared by materialize, job run, reexecute.

On a terminal a live progress bar shows steps done/total and the current step; otherwise (CI
logs, pipes) each finished step prints one plain line. Either way the run ends with its id,
status and a per-step table, and a failed run exits 1 naming the failed step and how to see its
traceback. `TargetProgress` counts a backfill's (asset, partition) targets instead of steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from raystra.api import RunResult
from raystra.cli._render import format_duration, output_console, short_id, status_text
from raystra.errors import NothingToRunError
from raystra.events import (
    AssetMaterialized,
    ErrorInfo,
    Event,
    OutputSchemaChecked,
    PartitionFailed,
    RunCanceled,
    RunFailed,
    RunStarted,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)

__all__ = ["RunProgress", "TargetProgress", "one_line", "print_run_summary", "run_and_report"]

EventCallback = Callable[[Event], None]


def one_line(error: ErrorInfo, limit: int = 300) -> str:
    """``Type: first line of the message``, cut to ``limit`` characters."""
    first = error.message.strip().splitlines()[0] if error.message.strip() else ""
    text = f"{error.type_name}: {first}" if first else error.type_name
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RunProgress:
    """Renders a run's events as they arrive (use as a context manager, pass `on_event`).

    Example:
        >>> with RunProgress(output_console()) as progress:  # doctest: +SKIP
        ...     materialize(defs, on_event=progress.on_event)
    """

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        self.console = console
        self.live = console.is_terminal if live is None else live
        self.run_id: str | None = None
        self._order: tuple[str, ...] = ()
        self._finished: set[str] = set()
        self._cursor = 0
        self._rows: dict[str, int] = {}
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> RunProgress:
        if self.live:
            self._progress = Progress(
                *self._columns(),
                console=self.console,
                transient=True,
                # The steps' own stdout is captured into the run's log; keep rich out of it.
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[current]}", style="cyan"),
        )

    def on_event(self, event: Event) -> None:
        """Update the display for one event (the `on_event` callback of the run API)."""
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, StepStarted):
            self._set_current(event.step_key)
        elif isinstance(event, AssetMaterialized):
            rows = event.metadata.get("row_count")
            if isinstance(rows, int):
                self._rows[event.step_key] = self._rows.get(event.step_key, 0) + rows
        elif isinstance(event, StepSucceeded):
            detail = format_duration(event.duration_s)
            if event.step_key in self._rows:
                detail += f", {self._rows[event.step_key]} rows"
            self._step_done(event.step_key, "SUCCESS", detail)
        elif isinstance(event, StepFailed):
            self._step_done(event.step_key, "FAILURE", one_line(event.error), always=True)
        elif isinstance(event, StepSkipped):
            self._step_done(event.step_key, "SKIPPED", event.reason)
        elif isinstance(event, StepRetrying):
            self._note(
                f"{event.step_key}: attempt {event.attempt} failed ({one_line(event.error)}); "
                f"retrying in {format_duration(event.delay_s)}",
                style="yellow",
            )
        elif isinstance(event, OutputSchemaChecked) and not event.passed:
            # Passing checks stay quiet; a failing one shows its diff, which the step's
            # one-line failure can only summarise.
            label = event.asset_key.to_user_string() if event.asset_key else event.step_key
            where = f" partition {event.partition}" if event.partition is not None else ""
            self._note(
                f"{label}{where}: output_schema check failed\n{event.diff()}",
                style="red",
            )
        elif isinstance(event, RunFailed) and event.error is not None:
            self._note(f"Run failed: {event.reason or one_line(event.error)}", style="red")
        elif isinstance(event, RunCanceled):
            self._note(f"Run canceled: {event.reason}", style="yellow")

    def _started(self, event: RunStarted) -> None:
        self.run_id = event.run_id
        self._order = event.step_keys
        _, total = self._tally()
        if self._progress is not None:
            self._task = self._progress.add_task(
                f"Run {short_id(event.run_id)}", total=total, current="", **self._fields()
            )
            self._set_current(self._next_pending())
        else:
            self.console.print(self._start_message(event), markup=False)

    def _start_message(self, event: RunStarted) -> str:
        return (
            f"Run {event.run_id} started: {len(event.step_keys)} step(s), executor {event.executor}"
        )

    def _tally(self) -> tuple[int, int]:
        """(finished, total), in the unit the bar counts: steps."""
        return len(self._finished), len(self._order)

    def _fields(self) -> dict[str, Any]:
        """Extra task fields the columns show."""
        return {}

    def _next_pending(self) -> str:
        # Finished steps only accumulate, so the first pending one never moves back: keep a
        # cursor rather than rescanning (a backfill can have 100,000 steps).
        while self._cursor < len(self._order) and self._order[self._cursor] in self._finished:
            self._cursor += 1
        return self._order[self._cursor] if self._cursor < len(self._order) else ""

    def _set_current(self, step_key: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, current=step_key)

    def _step_done(self, step_key: str, status: str, detail: str, *, always: bool = False) -> None:
        self._finished.add(step_key)
        done, total = self._tally()
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, **self._fields())
            # On Ray a step's start arrives with its report, after it ran: show the next
            # unfinished step in plan order as the one running.
            self._set_current(self._next_pending())
            if not always:
                return
        line = Text(f"[{done}/{total}] {step_key} ")
        line.append_text(status_text(status))
        line.append(f"  {detail}" if detail else "")
        self.console.print(line)

    def _note(self, text: str, *, style: str) -> None:
        self.console.print(Text(text, style=style))


class TargetProgress(RunProgress):
    """Like `RunProgress`, but counting (asset, partition) targets, with failures and an ETA.

    ``targets_per_step`` is asked once, when the run starts, how many targets each step
    materializes (steps it leaves out count as one).

    Example:
        >>> progress = TargetProgress(output_console(), lambda keys: {}, label="Backfill b1")
        >>> with progress:  # doctest: +SKIP
        ...     backfill(defs, "*", partitions=request, on_event=progress.on_event)
    """

    def __init__(
        self,
        console: Console,
        targets_per_step: Callable[[Sequence[str]], Mapping[str, int]],
        *,
        label: str,
        live: bool | None = None,
    ) -> None:
        super().__init__(console, live=live)
        self.label = label
        self.done = self.failed = self.skipped = 0
        self._targets_per_step = targets_per_step
        self._per_step: Mapping[str, int] = {}
        self._total = 0
        self._reported: dict[str, int] = {}

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (
            SpinnerColumn(),
            TextColumn(self.label),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("targets"),
            TextColumn("{task.fields[problems]}", style="yellow"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[current]}", style="cyan"),
        )

    def on_event(self, event: Event) -> None:
        """Count the event's targets, then update the display as `RunProgress` does."""
        if isinstance(event, RunStarted):
            self._per_step = self._targets_per_step(event.step_keys)
            self._total = sum(self._per_step.get(key, 1) for key in event.step_keys)
        elif isinstance(event, AssetMaterialized):
            self._reported[event.step_key] = self._reported.get(event.step_key, 0) + 1
            self.done += 1
            self._refresh()
        elif isinstance(event, PartitionFailed):
            self._reported[event.step_key] = self._reported.get(event.step_key, 0) + 1
            self.failed += 1
            self._partition_failed(event)
        elif isinstance(event, StepFailed):
            self.failed += self._unreported(event.step_key)
        elif isinstance(event, StepSkipped):
            self.skipped += self._unreported(event.step_key)
        super().on_event(event)

    def _unreported(self, step_key: str) -> int:
        return max(self._per_step.get(step_key, 1) - self._reported.get(step_key, 0), 0)

    def _tally(self) -> tuple[int, int]:
        return self.done + self.failed + self.skipped, self._total

    def _fields(self) -> dict[str, Any]:
        counts = ((self.failed, "failed"), (self.skipped, "skipped"))
        return {"problems": ", ".join(f"{n} {what}" for n, what in counts if n)}

    def _start_message(self, event: RunStarted) -> str:
        _, total = self._tally()
        return (
            f"{self.label}: run {event.run_id} started: {total} target(s) in "
            f"{len(event.step_keys)} step(s), executor {event.executor}"
        )

    def _refresh(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self._tally()[0], **self._fields())

    def _partition_failed(self, event: PartitionFailed) -> None:
        self._refresh()
        if event.partition is None:  # an unpartitioned asset: its step's failure was shown
            return
        done, total = self._tally()
        line = Text(f"[{done}/{total}] {event.asset_key.to_user_string()}[{event.partition}] ")
        line.append_text(status_text("FAILURE"))
        line.append(f"  {event.reason}" if event.reason else "")
        self.console.print(line)


@dataclass
class _StepLine:
    status: str = "NOT_STARTED"
    attempts: int = 0
    start: float | None = None
    end: float | None = None
    rows: int | None = None
    detail: str = ""


def _step_lines(result: RunResult) -> dict[str, _StepLine]:
    lines = {key: _StepLine() for key in result.plan.step_keys}
    for event in result.events:
        step_key = getattr(event, "step_key", None)
        if step_key is None:
            continue
        line = lines.setdefault(step_key, _StepLine())
        if isinstance(event, StepStarted):
            line.status, line.attempts = "IN_PROGRESS", event.attempt
            line.start = line.start if line.start is not None else event.timestamp
        elif isinstance(event, StepSucceeded | StepFailed):
            line.status = "SUCCESS" if isinstance(event, StepSucceeded) else "FAILURE"
            line.end = event.timestamp
            if isinstance(event, StepFailed):
                line.detail = one_line(event.error, limit=120)
        elif isinstance(event, StepSkipped):
            line.status, line.detail = "SKIPPED", event.reason
        elif isinstance(event, AssetMaterialized):
            rows = event.metadata.get("row_count")
            if isinstance(rows, int):
                line.rows = (line.rows or 0) + rows
    return lines


def print_run_summary(console: Console, result: RunResult) -> None:
    """The run id, status, duration and a per-step table; for a failure, the error and a hint."""
    times = [event.timestamp for event in result.events]
    took = format_duration(max(times) - min(times)) if times else "-"
    header = Text("Run ")
    header.append(result.run_id, style="bold")
    header.append(" ")
    header.append_text(status_text(result.status.value))
    header.append(f" in {took}")
    console.print(header)
    if not result.plan.steps:
        console.print("Nothing needed running: the selection planned no steps.", markup=False)
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("step", "status", "attempts", "duration", "rows", "detail"):
        table.add_column(column, overflow="fold")
    for step_key, line in _step_lines(result).items():
        duration = (
            line.end - line.start if line.start is not None and line.end is not None else None
        )
        table.add_row(
            Text(step_key),
            status_text(line.status),
            str(line.attempts or "-"),
            format_duration(duration),
            "-" if line.rows is None else str(line.rows),
            Text(line.detail),
        )
    console.print(table)
    if result.success:
        return
    for failure in result.failed_steps:
        console.print(
            Text(f"Step {failure.step_key!r} failed: {one_line(failure.error)}", style="red")
        )
    engine = [e for e in result.events if isinstance(e, RunFailed) and e.error is not None]
    for event in engine:
        assert event.error is not None
        console.print(Text(f"The run failed: {one_line(event.error)}", style="red"))
    console.print(
        Text(f"See the traceback with: raystra runs show {short_id(result.run_id)}", style="dim")
    )


def run_and_report(start: Callable[[EventCallback], RunResult]) -> None:
    """Run ``start(on_event)`` with live progress, print the summary, exit 1 on failure.

    Raises:
        typer.Exit: With code 1 when the run did not succeed, 130 when interrupted.
    """
    console = output_console()
    progress = RunProgress(console)
    try:
        with progress:
            result = start(progress.on_event)
    except NothingToRunError as nothing:
        console.print(Text(str(nothing), style="green"))
        return
    except KeyboardInterrupt:
        which = f"Run {progress.run_id}" if progress.run_id else "The run"
        console.print(Text(f"Interrupted: {which} was recorded as CANCELED.", style="yellow"))
        raise typer.Exit(130) from None
    print_run_summary(console, result)
    if not result.success:
        raise typer.Exit(1)
