"""@op and @job: task-style graphs, run the same way as assets."""

from __future__ import annotations

import pytest

from raystra import Config, Definitions, In, Out, execute_job, job, op
from raystra.definitions import InMemoryIOManager
from raystra.errors import InvalidDefinitionError


@op
def numbers() -> list[int]:
    return [1, 2, 3, 4]


@op(out={"evens": Out(), "odds": Out()})
def split(values: list[int]) -> tuple[list[int], list[int]]:
    return [v for v in values if v % 2 == 0], [v for v in values if v % 2]


class ScaleConfig(Config):
    factor: int = 1


@op
def total(values: list[int], config: ScaleConfig) -> int:
    return sum(values) * config.factor


def test_job_body_records_the_graph_without_running_ops() -> None:
    @job
    def pipeline():
        evens, odds = split(numbers())
        total(evens)
        total.alias("odd_total")(odds)

    assert pipeline.node_names == ("numbers", "split", "total", "odd_total")
    assert pipeline.node("split").upstream["values"].node_name == "numbers"
    assert pipeline.node("odd_total").upstream["values"].output_name == "odds"


def test_ops_are_plain_callables_outside_jobs() -> None:
    assert split([1, 2, 3]) == ([2], [1, 3])


def test_calling_an_op_twice_gets_a_unique_name() -> None:
    @job
    def twice():
        total(numbers())
        total(numbers())

    assert twice.node_names == ("numbers", "total", "numbers_2", "total_2")


def test_job_runs_with_config_and_multiple_outputs() -> None:
    @job
    def pipeline():
        evens, odds = split(numbers())
        total(evens)
        total.alias("odd_total")(odds)

    io = InMemoryIOManager()
    defs = Definitions(jobs=[pipeline], resources={"io_manager": io})
    result = execute_job(
        defs, "pipeline", run_config={"ops": {"odd_total": {"config": {"factor": 10}}}}
    )
    assert result.success
    assert result.output_for("total") == 6
    assert result.output_for("odd_total") == 40
    assert result.output_for("split", "odds") == [1, 3]


def test_unwired_op_input_is_an_error() -> None:
    with pytest.raises(
        InvalidDefinitionError, match="input 'values' of op 'total' is not connected"
    ):

        @job
        def broken():
            total()


def test_constants_inside_job_body_are_refused() -> None:
    with pytest.raises(InvalidDefinitionError, match="Constant values belong in the op's Config"):

        @job
        def broken():
            total([1, 2])


def test_op_input_can_load_an_asset() -> None:
    from raystra import asset, materialize

    @asset
    def sales() -> list[int]:
        return [5, 6]

    @op(ins={"rows": In(asset_key="sales")})
    def count(rows: list[int]) -> int:
        return len(rows)

    @job
    def counting():
        count()

    defs = Definitions([sales], jobs=[counting], resources={"io_manager": InMemoryIOManager()})
    materialize(defs)
    assert execute_job(defs, "counting").output_for("count") == 2
