"""Summaries of run_peers.py's measurements: medians, the Markdown tables, charts, the README.

Pure functions over plain dicts (no orchestrator imports), so they are tested on given figures.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

BEGIN = "<!-- peers:begin -->"
END = "<!-- peers:end -->"

# What each row measures, printed next to it.
MEASURES = {
    "raw_ray": "plain Ray tasks chained by ObjectRefs, nothing recorded (the floor)",
    "raystra": "raystra public API on Ray: SQLite run storage, events, Parquet IO manager",
    "dagster_in_process": "Dagster `materialize`, in-process executor",
    "dagster_multiprocess": "Dagster job, multiprocess executor, filesystem IO manager",
    "prefect_ray": "Prefect 3 flow, `.submit()` tasks on prefect-ray's RayTaskRunner",
    "prefect_threads": "Prefect 3 flow, `.submit()` tasks on ThreadPoolTaskRunner",
}


def summarise(seconds: list[float]) -> dict[str, Any]:
    """Median, min, max and N of a list of timings.

    Example:
        >>> summarise([3.0, 1.0, 2.0])["median"]
        2.0
    """
    return {
        "median": statistics.median(seconds),
        "min": min(seconds),
        "max": max(seconds),
        "n": len(seconds),
        "runs": seconds,
    }


def cell(stats: dict[str, Any] | None, *, scale: float = 1.0, digits: int = 3) -> str:
    """``median [min-max]`` of ``stats`` times ``scale``, or the reason it has none."""
    if stats is None:
        return "-"
    if "skipped" in stats:
        return f"skipped ({stats['skipped']})"
    low, mid, high = (stats[k] * scale for k in ("min", "median", "max"))
    return f"{mid:.{digits}f} [{low:.{digits}f}-{high:.{digits}f}]"


def markdown(results: dict[str, Any]) -> str:
    """One Markdown table per workload, the machine and the exact command above them."""
    machine = results["machine"]
    lines = [
        f"Command: `{results['command']}`",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']:.0f} GiB, "
        f"{machine['os']}, Python {machine['python']}; load average "
        f"{machine['load_before'][0]:.1f} before, {machine['load_after'][0]:.1f} after"
        + (
            " (the machine was shared and loaded: read the figures loosely)."
            if results.get("loaded")
            else "."
        ),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(results["versions"].items())),
        "",
        f"Each figure is the median [min-max] of {results['repeat']} runs, systems alternating; "
        "each run is its own process, timed after imports and a warm-up run.",
    ]
    for workload in results["workloads"]:
        lines += ["", f"**{workload['title']}** ({workload['unit']})", ""]
        lines += ["| system | what the row measures | " + " | ".join(workload["columns"]) + " |"]
        lines += ["| --- | --- | " + " | ".join("---" for _ in workload["columns"]) + " |"]
        for system, cells in workload["rows"].items():
            lines.append(f"| {system} | {MEASURES[system]} | " + " | ".join(cells) + " |")
        if workload.get("note"):
            lines += ["", workload["note"]]
    return "\n".join(lines) + "\n"


def refresh_readme(readme: str, table: str) -> str:
    """``readme`` with the text between the peers markers replaced by ``table``.

    Example:
        >>> refresh_readme(f"a\\n{BEGIN}\\nold\\n{END}\\nb", "new\\n")
        'a\\n<!-- peers:begin -->\\nnew\\n<!-- peers:end -->\\nb'
    """
    if (
        readme.count(BEGIN) != 1
        or readme.count(END) != 1
        or readme.index(BEGIN) > readme.index(END)
    ):
        raise ValueError(
            f"README.md must contain {BEGIN} and then {END} exactly once each; add them to the "
            "Performance section where the peers table belongs"
        )
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def chart(path: Path, title: str, unit: str, bars: dict[str, dict[str, Any]]) -> None:
    """A bar chart of medians with min-max whiskers, one bar per system (skipped ones named)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(bars)
    measured = [n for n in names if "median" in bars[n]]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(names) + 1.5))
    for position, name in enumerate(names):
        stats = bars[name]
        if "median" not in stats:
            ax.text(0, position, f"  skipped: {stats['skipped']}", va="center", fontsize=8)
            continue
        err = [[stats["median"] - stats["min"]], [stats["max"] - stats["median"]]]
        color = (
            "tab:gray" if name == "raw_ray" else "tab:blue" if name == "raystra" else "tab:orange"
        )
        ax.barh(position, stats["median"], xerr=err, color=color, capsize=3)
        ax.text(stats["max"], position, f"  {stats['median']:.3g}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel(f"{unit} (median, whiskers min-max)")
    ax.set_title(title)
    if measured:
        ax.set_xlim(0, max(bars[n]["max"] for n in measured) * 1.35)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scale_chart(
    path: Path, points: dict[str, dict[int, float]], partitions: dict[str, tuple[int, float]]
) -> None:
    """Per-step cost of raystra and raw Ray against graph size (log x), backfill as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for system, series in points.items():
        steps = sorted(series)
        ax.plot(steps, [series[s] for s in steps], marker="o", label=f"{system}, layered graph")
    for system, (count, value) in partitions.items():
        ax.scatter(
            [count], [value], marker="x", s=80, label=f"{system}, {count:,}-partition backfill"
        )
    ax.set_xscale("log")
    ax.set_xlabel("steps")
    ax.set_ylabel("ms per step (median)")
    ax.set_ylim(bottom=0)
    ax.set_title("Per-step cost as work grows: raystra vs raw Ray")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
