"""Helpers shared by the CLI tests: the sample project, run-id parsing, file writing."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from typer.testing import Result

PROJECT = """
from pathlib import Path

import pyarrow as pa

from raystra import AssetExecutionContext, Config, Definitions, asset, job, op

HERE = Path(__file__).parent


class ScaleConfig(Config):
    factor: int = 1


@asset(group_name="raw")
def orders() -> pa.Table:
    print("reading orders from the source")
    return pa.table({"id": [1, 2, 3], "amount": [10, 20, 30]})


@asset(group_name="raw")
def customers() -> list[str]:
    return ["ann", "bob"]


@asset(group_name="sales")
def revenue(context: AssetExecutionContext, orders: pa.Table, config: ScaleConfig) -> int:
    context.log.info("summing %d orders with factor=%d", orders.num_rows, config.factor)
    if not (HERE / "fixed").exists():
        raise ValueError("revenue is broken until the fix lands")
    return sum(orders.column("amount").to_pylist()) * config.factor


@asset(group_name="sales")
def report(revenue: int, customers: list[str]) -> str:
    return f"revenue={revenue} customers={len(customers)}"


@op
def numbers() -> list[int]:
    return [1, 2, 3]


@op
def total(values: list[int]) -> int:
    print(f"total is {sum(values)}")
    return sum(values)


@job(description="Adds numbers up.")
def sum_job():
    total(numbers())


defs = Definitions([orders, customers, revenue, report], jobs=[sum_job])
"""

RUN_ID = re.compile(r"Run ([0-9a-f]{8}-[0-9a-f-]{27})")


def run_ids(output: str) -> list[str]:
    """Every full run id printed in ``output``, in order, without duplicates."""
    return list(dict.fromkeys(RUN_ID.findall(output)))


def write(path: Path, text: str) -> Path:
    """Write dedented ``text`` to ``path`` (creating folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@dataclass
class Completed:
    """A finished CLI subprocess."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


Invoke = Callable[..., Result]
"""The in-process runner fixture ``cli``: ``cli("runs", "list")``."""

RunCli = Callable[..., Completed]
"""The subprocess runner fixture ``run_cli``: ``run_cli("check", cwd=folder)``."""
