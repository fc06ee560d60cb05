"""Definitions are validated once, with errors that name the culprit and say how to fix it."""

from __future__ import annotations

import pytest

from raystra import (
    AssetSpec,
    Config,
    ConfigurableResource,
    Definitions,
    In,
    asset,
    job,
    materialize,
    op,
)
from raystra.definitions import InMemoryIOManager
from raystra.errors import (
    CycleError,
    DuplicateKeyError,
    InvalidDefinitionError,
    MissingResourceError,
    RunConfigError,
    UnknownAssetError,
)


class Warehouse(ConfigurableResource):
    url: str


class CleanConfig(Config):
    min_amount: float
    currency: str = "EUR"


class Needed(Config):
    threshold: int


def test_cycle_error_prints_the_cycle_path() -> None:
    @asset
    def a(c):
        return c

    @asset
    def b(a):
        return a

    @asset
    def c(b):
        return b

    @asset
    def unrelated():
        return 1

    with pytest.raises(CycleError) as info:
        Definitions([unrelated, a, b, c])
    assert info.value.cycle in (["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"])
    assert " -> ".join(info.value.cycle) in str(info.value)


def test_self_dependency_is_a_cycle() -> None:
    @asset(deps=["loop"])
    def loop():
        return 1

    with pytest.raises(CycleError, match="loop -> loop"):
        Definitions([loop])


def test_duplicate_keys_name_both_definitions() -> None:
    def make():
        @asset(name="orders")
        def first():
            return 1

        return first

    @asset(name="orders")
    def second():
        return 2

    with pytest.raises(DuplicateKeyError, match="'orders' is defined twice") as info:
        Definitions([make(), second])
    assert "first" in str(info.value) and "second" in str(info.value)


def test_duplicate_spec_and_asset() -> None:
    @asset
    def prices():
        return 1

    with pytest.raises(DuplicateKeyError, match="prices"):
        Definitions([prices, AssetSpec("prices")])


def test_unknown_dependency_suggests_the_closest_key() -> None:
    @asset
    def daily_sales():
        return 1

    @asset
    def clean_sales(dayly_sales):
        return dayly_sales

    with pytest.raises(UnknownAssetError) as info:
        Definitions([daily_sales, clean_sales])
    message = str(info.value)
    assert "'clean_sales' depends on 'dayly_sales'" in message
    assert "Did you mean 'daily_sales'?" in message


def test_external_spec_satisfies_a_dependency() -> None:
    @asset
    def report(vendor_prices):
        return vendor_prices

    defs = Definitions([report, AssetSpec("vendor_prices")])
    assert defs.asset_graph.external == {AssetSpec("vendor_prices").key}
    assert defs.asset_graph.materializable_keys == {report.key}


def test_missing_resource_names_asset_and_key() -> None:
    @asset
    def load(warehouse: Warehouse):
        return warehouse.url

    with pytest.raises(MissingResourceError) as info:
        Definitions([load], resources={"warehous": Warehouse(url="x")})
    message = str(info.value)
    assert "Asset 'load' needs resource 'warehouse'" in message
    assert "Did you mean 'warehous'?" in message


def test_missing_io_manager_key_is_reported() -> None:
    @asset(io_manager_key="lake")
    def stored():
        return 1

    with pytest.raises(MissingResourceError, match="'lake'"):
        Definitions([stored])
    Definitions([stored], resources={"lake": InMemoryIOManager()})


def test_resource_of_the_wrong_type_is_reported() -> None:
    @asset
    def load(warehouse: Warehouse):
        return 1

    with pytest.raises(MissingResourceError, match="expects a Warehouse"):
        Definitions([load], resources={"warehouse": "not a resource"})


def test_op_resource_requirements_are_checked() -> None:
    @op(required_resource_keys={"api"})
    def fetch():
        return 1

    @job
    def fetch_job():
        fetch()

    with pytest.raises(MissingResourceError, match="Op 'fetch' of job 'fetch_job' needs resource"):
        Definitions(jobs=[fetch_job])


def test_op_loading_an_unknown_asset_is_reported() -> None:
    @op(ins={"sales": In(asset_key="sales_by_customr")})
    def features(sales):
        return sales

    @job
    def train():
        features()

    @asset
    def sales_by_customer():
        return 1

    with pytest.raises(UnknownAssetError, match="Did you mean 'sales_by_customer'"):
        Definitions([sales_by_customer], jobs=[train])


def test_non_asset_objects_are_refused() -> None:
    def plain():
        return 1

    with pytest.raises(InvalidDefinitionError, match="decorated with @asset"):
        Definitions([plain])  # type: ignore[list-item]


def test_bad_run_config_lists_every_field_path() -> None:
    @asset
    def clean(config: CleanConfig):
        return config.min_amount

    @asset
    def plain():
        return 1

    defs = Definitions([clean, plain], resources={"io_manager": InMemoryIOManager()})
    with pytest.raises(RunConfigError) as info:
        materialize(
            defs,
            run_config={
                "ops": {
                    "clean": {"config": {"min_amount": "lots", "colour": "red"}},
                    "plain": {"config": {"x": 1}},
                    "claen": {"config": {}},
                }
            },
        )
    paths = [path for path, _ in info.value.errors]
    assert "ops.clean.config.min_amount" in paths
    assert "ops.clean.config.colour" in paths
    assert "ops.plain" in paths
    assert "ops.claen" in paths
    assert "Did you mean 'clean'" in str(info.value)
    assert "'lots'" in str(info.value)


def test_missing_required_config_is_a_field_error() -> None:
    @asset
    def gated(config: Needed):
        return config.threshold

    defs = Definitions([gated], resources={"io_manager": InMemoryIOManager()})
    with pytest.raises(RunConfigError, match=r"ops\.gated\.config\.threshold: Field required"):
        materialize(defs)


def test_unresolvable_config_annotation_is_explained() -> None:
    class LocalConfig(Config):
        x: int = 1

    with pytest.raises(InvalidDefinitionError, match="could not be resolved"):

        @asset
        def uses(config: LocalConfig):
            return config.x


def test_unresolvable_resource_annotation_is_explained() -> None:
    class LocalResource(ConfigurableResource):
        url: str

    @asset
    def uses(api: LocalResource):
        return api.url

    with pytest.raises(UnknownAssetError, match="'LocalResource', which raystra could not resolve"):
        Definitions([uses], resources={"api": LocalResource(url="u")})
