"""The pure parts of benchmarks/run_peers.py: summaries, the Markdown tables, the README refresh."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "peers"))

import _report as report


def test_summary_is_median_min_max_of_the_runs() -> None:
    stats = report.summarise([4.0, 1.0, 2.0, 10.0])
    assert (stats["median"], stats["min"], stats["max"], stats["n"]) == (3.0, 1.0, 10.0, 4)


def test_cells_show_median_and_range_or_why_skipped() -> None:
    assert report.cell(report.summarise([0.002, 0.001, 0.003]), scale=1000, digits=1) == (
        "2.0 [1.0-3.0]"
    )
    assert report.cell({"skipped": "over the 600 s limit"}) == "skipped (over the 600 s limit)"


def _results(loaded: bool) -> dict[str, object]:
    return {
        "command": "python benchmarks/run_peers.py --repeat 3",
        "repeat": 3,
        "loaded": loaded,
        "versions": {"dagster": "1.13.28", "ray": "2.60.0"},
        "machine": {
            "cpu": "Some CPU",
            "cores": 2,
            "memory_gib": 24.0,
            "os": "Linux",
            "python": "3.11.9",
            "load_before": (2.5, 2.0, 1.0),
            "load_after": (3.0, 2.0, 1.0),
        },
        "workloads": [
            {
                "title": "Layered graph, 1,000 trivial steps",
                "unit": "ms per step",
                "columns": ["1,000 steps"],
                "rows": {"raw_ray": ["0.51 [0.50-0.60]"], "dagster_multiprocess": ["skipped"]},
                "note": "",
            }
        ],
    }


def test_markdown_names_command_machine_and_what_each_row_measures() -> None:
    text = report.markdown(_results(loaded=True))
    assert "`python benchmarks/run_peers.py --repeat 3`" in text
    assert "Some CPU, 2 cores, 24 GiB" in text
    assert "loaded" in text
    assert "| raw_ray | plain Ray tasks" in text and "| 0.51 [0.50-0.60] |" in text
    assert "| dagster_multiprocess | Dagster job, multiprocess executor" in text
    assert "loaded" not in report.markdown(_results(loaded=False)).split("Versions")[0]


def test_readme_refresh_replaces_only_between_markers() -> None:
    readme = f"# x\n\nbefore\n{report.BEGIN}\nold table\n{report.END}\nafter\n"
    refreshed = report.refresh_readme(readme, "| new |\n")
    assert refreshed == f"# x\n\nbefore\n{report.BEGIN}\n| new |\n{report.END}\nafter\n"
    assert report.refresh_readme(refreshed, "| new |\n") == refreshed


def test_readme_without_markers_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="peers:begin"):
        report.refresh_readme("# no markers\n", "| t |\n")
