"""How long listing and indexing 100,000 time partition keys takes (pure Python, no Ray).

Times `get_partition_keys` (first call, then cached), `key_index` on every key one by one, and
`get_partition_keys_in_range` over all keys, for hourly partitions in UTC and in a DST time zone,
daily partitions, an every-2-hours cron (arithmetic) and a weekday cron (croniter, whose ticks
are cached after the first listing). Prints a table.

Run: python benchmarks/bench_partition_keys.py [--count 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from raystra.definitions._partitions import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    PartitionKeyRange,
    PartitionsDefinition,
    TimeWindowPartitionsDefinition,
)


def best_of(repeat: int, work: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def cases(count: int) -> list[tuple[str, PartitionsDefinition, datetime]]:
    start = datetime(2000, 1, 1, tzinfo=UTC)
    hours_later = start + timedelta(hours=count)
    return [
        ("hourly UTC", HourlyPartitionsDefinition(start), hours_later),
        (
            "hourly America/New_York",
            HourlyPartitionsDefinition(start, timezone="America/New_York"),
            hours_later,
        ),
        ("daily UTC", DailyPartitionsDefinition(start), start + timedelta(days=count)),
        (
            "cron '0 */2 * * *'",
            TimeWindowPartitionsDefinition("0 */2 * * *", start, "%Y-%m-%d-%H:%M"),
            start + timedelta(hours=2 * count),
        ),
        (
            "cron '0 9 * * 1-5' (croniter)",
            TimeWindowPartitionsDefinition("0 9 * * 1-5", start, "%Y-%m-%d"),
            start + timedelta(days=count * 7 // 5 + 1),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header = (
        f"{'definition':32} {'keys':>8} {'1st list':>9} {'list':>9} {'index all':>10} {'range':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, definition, now in cases(args.count):
        first, listing, indexing, ranged, count = measure(definition, now, args.repeat)
        print(
            f"{name:32} {count:>8} {first:>8.3f}s {listing:>8.3f}s {indexing:>9.3f}s "
            f"{ranged:>8.3f}s"
        )


def measure(
    definition: PartitionsDefinition, now: datetime, repeat: int
) -> tuple[float, float, float, float, int]:
    """Seconds to list all keys (first time, then again), index every key one by one, and
    expand the whole range."""
    first = best_of(1, lambda: definition.get_partition_keys(now))
    keys = definition.get_partition_keys(current_time=now)
    whole = PartitionKeyRange(keys[0], keys[-1])

    def index_all() -> None:
        for key in keys:
            definition.key_index(key, current_time=now)

    listing = best_of(repeat, lambda: definition.get_partition_keys(now))
    indexing = best_of(repeat, index_all)
    whole_range = definition.get_partition_keys_in_range
    ranged = best_of(repeat, lambda: whole_range(whole, current_time=now))
    return first, listing, indexing, ranged, len(keys)


if __name__ == "__main__":
    main()
