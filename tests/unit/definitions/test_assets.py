"""@asset, @multi_asset, AssetSpec, AssetIn: what a user declares is what raystra records."""

from __future__ import annotations

import pytest

import raystra
from raystra import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetSpec,
    Config,
    ConfigurableResource,
    RetryPolicy,
    asset,
    multi_asset,
)
from raystra.errors import InvalidDefinitionError, InvalidNameError


class Warehouse(ConfigurableResource):
    url: str


class Threshold(Config):
    minimum: int = 0


def test_asset_infers_upstreams_from_parameter_names_and_keeps_options() -> None:
    @asset(
        group_name="sales",
        metadata={"owner": "data"},
        description="Clean orders.",
        code_version="3",
        io_manager_key="warehouse_io",
        retry_policy=RetryPolicy(max_retries=2, delay=1),
        ray_options={"num_cpus": 2, "memory": 1e9, "resources": {"db": 1}},
        pool="warehouse",
    )
    def clean(context: AssetExecutionContext, raw, config: Threshold, warehouse: Warehouse):
        return raw

    assert clean.key == AssetKey("clean")
    assert [i.asset_key for i in clean.inputs] == [AssetKey("raw")]
    assert clean.roles.context_param == "context"
    assert clean.roles.config_type is Threshold
    assert clean.roles.resource_params == ("warehouse",)
    out = clean.outputs[0]
    assert (out.group_name, out.code_version, out.io_manager_key) == ("sales", "3", "warehouse_io")
    assert out.metadata == {"owner": "data"}
    assert clean.description == "Clean orders."
    assert clean.retry_policy == RetryPolicy(max_retries=2, delay=1)
    assert clean.ray_options == {"num_cpus": 2, "memory": 1e9, "resources": {"db": 1}}
    assert clean.pool == "warehouse"
    assert clean.required_resource_keys == {"warehouse", "warehouse_io"}


def test_asset_stays_a_plain_callable() -> None:
    @asset
    def double(numbers: list[int]) -> list[int]:
        return [n * 2 for n in numbers]

    assert double([1, 2]) == [2, 4]
    assert double.__name__ == "double"


def test_name_key_prefix_and_ins_build_keys() -> None:
    @asset(name="orders", key_prefix=["warehouse", "raw"])
    def load(source, other=None):
        return source

    assert load.key == AssetKey(["warehouse", "raw", "orders"])
    # Inferred upstreams share the asset's prefix (Dagster's rule)...
    assert load.inputs[0].asset_key == AssetKey(["warehouse", "raw", "source"])

    @asset(ins={"src": AssetIn(key="vendor/prices")}, deps=["calendar", load])
    def priced(src):
        return src

    assert priced.inputs[0].asset_key == AssetKey(["vendor", "prices"])
    assert priced.deps == (AssetKey("calendar"), AssetKey(["warehouse", "raw", "orders"]))
    assert priced.dependency_keys == {
        AssetKey(["vendor", "prices"]),
        AssetKey("calendar"),
        AssetKey(["warehouse", "raw", "orders"]),
    }


def test_multi_asset_outputs_each_get_a_key_and_group() -> None:
    @multi_asset(
        outs={
            "users": AssetOut(group_name="people"),
            "orders": AssetOut(key_prefix="raw", code_version="2"),
        },
        group_name="ingest",
    )
    def extract():
        return [1], [2]

    assert extract.keys == (AssetKey("users"), AssetKey(["raw", "orders"]))
    assert extract.group_names == {
        AssetKey("users"): "people",
        AssetKey(["raw", "orders"]): "ingest",
    }
    assert extract.output_for_key(AssetKey(["raw", "orders"])).code_version == "2"
    assert extract() == ([1], [2])


def test_asset_spec_is_external() -> None:
    spec = AssetSpec("vendor/prices", group_name="vendors", description="Daily prices")
    assert spec.key == AssetKey(["vendor", "prices"])
    assert spec.keys == (spec.key,)


@pytest.mark.parametrize("bad", ["my-asset", "has space", "dots.bad"])
def test_invalid_names_are_rejected_with_a_suggestion(bad: str) -> None:
    with pytest.raises(InvalidNameError, match="letters, digits and underscores"):

        @asset(name=bad)
        def x():
            return 1


def test_invalid_group_and_prefix_names_are_rejected() -> None:
    with pytest.raises(InvalidNameError, match="Group name"):

        @asset(group_name="sales-team")
        def x():
            return 1

    with pytest.raises(InvalidNameError, match="key_prefix"):

        @asset(key_prefix="raw data")
        def y():
            return 1


def test_ins_without_matching_parameter_is_an_error() -> None:
    with pytest.raises(InvalidDefinitionError, match=r"ins entries \['missing'\]"):

        @asset(ins={"missing": AssetIn("a")})
        def x(present):
            return present


def test_unknown_ray_option_is_refused_at_definition_time() -> None:
    with pytest.raises(InvalidDefinitionError, match="unknown ray_options \\['num_cpu'\\]"):

        @asset(ray_options={"num_cpu": 1})
        def x():
            return 1

    with pytest.raises(InvalidDefinitionError, match="non-negative"):

        @asset(ray_options={"num_gpus": -1})
        def y():
            return 1


def test_var_args_are_refused() -> None:
    with pytest.raises(InvalidDefinitionError, match=r"takes \*args"):

        @asset
        def x(*args):
            return args


def test_public_names_are_dagster_compatible() -> None:
    for name in [
        "asset",
        "multi_asset",
        "AssetOut",
        "AssetIn",
        "AssetKey",
        "AssetSpec",
        "op",
        "job",
        "In",
        "Out",
        "Definitions",
        "AssetSelection",
        "AssetExecutionContext",
        "materialize",
        "ConfigurableResource",
        "Config",
        "EnvVar",
        "RetryPolicy",
        "MaterializeResult",
    ]:
        assert hasattr(raystra, name), name
