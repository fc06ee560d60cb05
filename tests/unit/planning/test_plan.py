"""Planning is pure: frozen steps and input sources, built without Ray or a database."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from raystra import AssetKey, AssetOut, AssetSpec, Definitions, asset, multi_asset
from raystra.planning import build_asset_plan


@asset
def raw():
    return 1


@asset
def clean(raw):
    return raw


@asset(deps=["clean"])
def audit():
    return 0


@multi_asset(outs={"left": AssetOut(), "right": AssetOut()})
def fork(clean):
    return clean, clean


@asset
def joined(left, right, vendor):
    return left


DEFS = Definitions([raw, clean, audit, fork, joined, AssetSpec("vendor")])


def test_plan_orders_steps_and_wires_inputs() -> None:
    plan = build_asset_plan(DEFS, DEFS.asset_graph.materializable_keys)
    keys = plan.step_keys
    assert set(keys) == {"raw", "clean", "audit", "fork", "joined"}
    assert keys.index("raw") < keys.index("clean") < keys.index("fork") < keys.index("joined")
    assert plan.step("audit").upstream_step_keys == ("clean",)
    assert plan.step("audit").inputs == ()  # deps order work but hand over no data
    joined_inputs = {i.name: i for i in plan.step("joined").inputs}
    assert joined_inputs["left"].upstream_step_key == "fork"
    assert joined_inputs["left"].upstream_output_name == "left"
    assert joined_inputs["vendor"].from_storage  # external spec: loaded, never run
    assert plan.step("fork").asset_keys == (AssetKey("left"), AssetKey("right"))


def test_inputs_outside_the_selection_load_from_storage() -> None:
    plan = build_asset_plan(DEFS, [AssetKey("clean")])
    assert plan.step_keys == ("clean",)
    (only,) = plan.step("clean").inputs
    assert only.from_storage and only.asset_key == AssetKey("raw")


def test_selecting_one_output_of_a_multi_asset_runs_it_whole() -> None:
    plan = build_asset_plan(DEFS, [AssetKey("right")])
    assert plan.step_keys == ("fork",)
    assert plan.step("fork").output_names == ("left", "right")


def test_the_same_selection_reuses_its_plan_and_another_gets_its_own() -> None:
    first = build_asset_plan(DEFS, [AssetKey("clean"), AssetKey("raw")])
    again = build_asset_plan(DEFS, [AssetKey("raw"), AssetKey("clean")])  # order is irrelevant
    assert again is first
    other = build_asset_plan(DEFS, [AssetKey("clean")])
    assert other is not first and other.step_keys == ("clean",)
    rebuilt = Definitions([raw, clean, audit, fork, joined, AssetSpec("vendor")])
    assert build_asset_plan(rebuilt, [AssetKey("clean"), AssetKey("raw")]) is not first


def test_plans_are_frozen_data() -> None:
    plan = build_asset_plan(DEFS, DEFS.asset_graph.materializable_keys)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.steps[0].key = "other"  # type: ignore[misc]


def test_planning_imports_neither_ray_nor_a_database() -> None:
    import subprocess

    code = (
        "import sys, raystra\n"
        "from raystra.planning import build_asset_plan\n"
        "@raystra.asset\n"
        "def a(): return 1\n"
        "d = raystra.Definitions([a])\n"
        "build_asset_plan(d, d.topological_keys)\n"
        "print(sorted(m for m in ('ray', 'sqlalchemy', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_large_graph_plans_quickly_enough_to_be_linear() -> None:
    # A 2,000-asset chain: recursion-free planning and topological sort.
    assets = []
    previous = None
    for i in range(2000):
        deps = [previous] if previous else []

        @asset(name=f"n{i}", deps=deps)
        def node():
            return 1

        assets.append(node)
        previous = f"n{i}"
    defs = Definitions(assets)
    plan = build_asset_plan(defs, defs.asset_graph.materializable_keys)
    assert plan.step_keys[0] == "n0" and plan.step_keys[-1] == "n1999"
    assert plan.step("n1999").upstream_step_keys == ("n1998",)
