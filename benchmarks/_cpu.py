"""CPU time of this process and everything it started: the driver, Ray's processes, receivers.

On a small machine both sides of a benchmark keep every core busy, so their wall times follow
the CPU they burn, and wall time swings with whatever else the host runs. Summed CPU time of
the whole local cluster moves far less between invocations: it is the figure to compare when
judging a change of a few percent.

psutil is optional (``pip install psutil``); without it `CpuMeter.available` is False and the
benchmarks print wall times only.

Example:
    >>> meter = CpuMeter()
    >>> with meter.measure() as used:
    ...     sum(range(1000))
    499500
    >>> used.seconds >= 0 or not meter.available
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

try:
    import psutil
except ImportError:  # the wall-time columns still work
    psutil = None


@dataclass
class CpuUsed:
    """What one `CpuMeter.measure` block used, in CPU seconds (user + system)."""

    seconds: float = 0.0


class CpuMeter:
    """Sums user + system CPU of this process and all its descendants around a block.

    Processes are matched by pid and start time, so a pid reused during the block is not
    mistaken for the process that held it before. A process that starts and ends inside the
    block is not counted (Ray's workers live for the whole session).
    """

    def __init__(self) -> None:
        self.available = psutil is not None

    def _snapshot(self) -> dict[tuple[int, float], float]:
        if psutil is None:
            return {}
        me = psutil.Process()
        times: dict[tuple[int, float], float] = {}
        for process in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                cpu = process.cpu_times()
                times[(process.pid, process.create_time())] = cpu.user + cpu.system
        return times

    @contextlib.contextmanager
    def measure(self) -> Iterator[CpuUsed]:
        """Yield a `CpuUsed` that holds the block's CPU seconds once the block has ended."""
        used = CpuUsed()
        before = self._snapshot()
        try:
            yield used
        finally:
            after = self._snapshot()
            used.seconds = sum(t - before.get(key, 0.0) for key, t in after.items())
