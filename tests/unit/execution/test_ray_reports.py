"""Step reports travel between Ray workers and the driver as bytes (no Ray needed here)."""

from __future__ import annotations

from raystra.events import ErrorInfo, StepFailed, StepStarted
from raystra.execution.ray._tasks import StepReport, pack_report, unpack_report


def test_report_round_trips_with_its_events() -> None:
    failed = StepFailed(
        run_id="r1",
        step_key="orders",
        attempt=2,
        error=ErrorInfo(type_name="ValueError", message="bad row 7", traceback="tb"),
        duration_s=0.5,
        host="node-1",
        pid=42,
    )
    report = StepReport(
        "orders",
        "failed",
        (StepStarted(run_id="r1", step_key="orders", attempt=2, host="node-1", pid=42), failed),
        attempt=2,
        ray_attempt=1,
    )
    assert unpack_report(pack_report(report)) == report


def test_report_holding_an_object_standard_pickle_refuses_still_round_trips() -> None:
    class Local:  # defined in a function: the standard pickle cannot find it by name
        def __eq__(self, other: object) -> bool:
            return isinstance(other, Local)

        __hash__ = object.__hash__

    report = StepReport("orders", "deferred", deferred={"result": {"sample": Local()}})
    unpacked = unpack_report(pack_report(report))
    assert unpacked.step_key == "orders"
    assert type(unpacked.deferred["result"]["sample"]).__name__ == "Local"
