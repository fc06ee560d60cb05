"""AssetSelection: constructors, operators, traversals, the string syntax and its errors."""

from __future__ import annotations

import dataclasses
import doctest
import re

import pytest

from raystra.definitions._graph import AssetGraph
from raystra.definitions._keys import AssetKey
from raystra.errors import InvalidNameError, SelectionError, UnknownAssetError
from raystra.planning import _selection, _selection_parser
from raystra.planning._selection import AssetSelection

RAW_ORDERS = AssetKey(["raw", "orders"])
RAW_CUSTOMERS = AssetKey(["raw", "customers"])
CLEAN_ORDERS = AssetKey(["clean", "orders"])
REVENUE = AssetKey(["reports", "revenue"])
CHURN = AssetKey(["reports", "churn"])
EVERYTHING = {RAW_ORDERS, RAW_CUSTOMERS, CLEAN_ORDERS, REVENUE, CHURN}


@pytest.fixture(scope="module")
def graph() -> AssetGraph:
    """raw/orders, raw/customers -> clean/orders -> reports/revenue; churn also reads customers."""
    return AssetGraph.build(
        parents={
            RAW_ORDERS: (),
            RAW_CUSTOMERS: (),
            CLEAN_ORDERS: (RAW_ORDERS, RAW_CUSTOMERS),
            REVENUE: (CLEAN_ORDERS,),
            CHURN: (CLEAN_ORDERS, RAW_CUSTOMERS),
        },
        groups={
            RAW_ORDERS: "raw",
            RAW_CUSTOMERS: "raw",
            CLEAN_ORDERS: "clean",
            REVENUE: "reports",
            CHURN: "reports",
        },
    )


def select(graph: AssetGraph, text: str) -> set[AssetKey]:
    return set(AssetSelection.from_string(text).resolve(graph))


# --------------------------------------------------------------------------------- constructors
def test_all(graph: AssetGraph) -> None:
    assert AssetSelection.all().resolve(graph) == EVERYTHING


def test_keys_accepts_keys_strings_and_parts(graph: AssetGraph) -> None:
    sel = AssetSelection.keys(RAW_ORDERS, "clean/orders", ["reports", "revenue"])
    assert sel.resolve(graph) == {RAW_ORDERS, CLEAN_ORDERS, REVENUE}
    assert AssetSelection.keys().resolve(graph) == frozenset()


def test_groups(graph: AssetGraph) -> None:
    assert AssetSelection.groups("reports").resolve(graph) == {REVENUE, CHURN}
    assert AssetSelection.groups("raw", "clean").resolve(graph) == {
        RAW_ORDERS,
        RAW_CUSTOMERS,
        CLEAN_ORDERS,
    }


def test_key_prefixes(graph: AssetGraph) -> None:
    assert AssetSelection.key_prefixes("raw").resolve(graph) == {RAW_ORDERS, RAW_CUSTOMERS}
    assert AssetSelection.key_prefixes(["reports"], "clean").resolve(graph) == {
        REVENUE,
        CHURN,
        CLEAN_ORDERS,
    }
    assert AssetSelection.key_prefixes("raw/orders").resolve(graph) == {RAW_ORDERS}
    assert AssetSelection.key_prefixes("nothing").resolve(graph) == frozenset()


def test_assets_takes_anything_with_keys_or_key(graph: AssetGraph) -> None:
    class MultiAsset:
        keys = frozenset({REVENUE, CHURN})

    class Spec:
        key = RAW_ORDERS

    assert AssetSelection.assets(MultiAsset(), Spec()).resolve(graph) == {
        REVENUE,
        CHURN,
        RAW_ORDERS,
    }
    with pytest.raises(SelectionError, match=r"AssetSelection.keys\(\)"):
        AssetSelection.assets("raw/orders")  # type: ignore[arg-type]


def test_from_coercible(graph: AssetGraph) -> None:
    sel = AssetSelection.groups("raw")
    assert AssetSelection.from_coercible(sel) is sel
    assert AssetSelection.from_coercible("group:raw").resolve(graph) == {RAW_ORDERS, RAW_CUSTOMERS}
    assert AssetSelection.from_coercible(RAW_ORDERS).resolve(graph) == {RAW_ORDERS}

    class Spec:
        key = CHURN

    mixed = ["raw/orders", CLEAN_ORDERS, ["reports", "revenue"], Spec()]
    assert AssetSelection.from_coercible(mixed).resolve(graph) == {
        RAW_ORDERS,
        CLEAN_ORDERS,
        REVENUE,
        CHURN,
    }
    assert AssetSelection.from_coercible(Spec()).resolve(graph) == {CHURN}
    with pytest.raises(SelectionError, match="Cannot select 3"):
        AssetSelection.from_coercible([3])


# --------------------------------------------------------------------------- traversals, ends
def test_upstream_with_and_without_depth(graph: AssetGraph) -> None:
    revenue = AssetSelection.keys(REVENUE)
    assert revenue.upstream().resolve(graph) == {REVENUE, CLEAN_ORDERS, RAW_ORDERS, RAW_CUSTOMERS}
    assert revenue.upstream(depth=0).resolve(graph) == {REVENUE}
    assert revenue.upstream(depth=1).resolve(graph) == {REVENUE, CLEAN_ORDERS}
    assert revenue.upstream(depth=1, include_self=False).resolve(graph) == {CLEAN_ORDERS}
    assert revenue.upstream(include_self=False).resolve(graph) == {
        CLEAN_ORDERS,
        RAW_ORDERS,
        RAW_CUSTOMERS,
    }


def test_downstream_with_and_without_depth(graph: AssetGraph) -> None:
    customers = AssetSelection.keys(RAW_CUSTOMERS)
    assert customers.downstream().resolve(graph) == {RAW_CUSTOMERS, CLEAN_ORDERS, REVENUE, CHURN}
    # churn is one layer down through its direct edge, revenue only two layers down
    assert customers.downstream(1).resolve(graph) == {RAW_CUSTOMERS, CLEAN_ORDERS, CHURN}
    assert customers.downstream(1, include_self=False).resolve(graph) == {CLEAN_ORDERS, CHURN}


def test_negative_depth_is_rejected() -> None:
    with pytest.raises(SelectionError, match="depth"):
        AssetSelection.all().upstream(depth=-1)


def test_roots_and_sinks(graph: AssetGraph) -> None:
    assert AssetSelection.all().roots().resolve(graph) == {RAW_ORDERS, RAW_CUSTOMERS}
    assert AssetSelection.all().sinks().resolve(graph) == {REVENUE, CHURN}
    # Roots are relative to the selection, not the whole graph.
    assert AssetSelection.groups("clean", "reports").roots().resolve(graph) == {CLEAN_ORDERS}
    assert AssetSelection.groups("raw", "clean").sinks().resolve(graph) == {CLEAN_ORDERS}


# ------------------------------------------------------------------------------------ operators
def test_operators(graph: AssetGraph) -> None:
    raw, reports = AssetSelection.groups("raw"), AssetSelection.groups("reports")
    assert (raw | reports).resolve(graph) == {RAW_ORDERS, RAW_CUSTOMERS, REVENUE, CHURN}
    assert (AssetSelection.keys(REVENUE).upstream() & raw).resolve(graph) == {
        RAW_ORDERS,
        RAW_CUSTOMERS,
    }
    assert (AssetSelection.all() - raw - reports).resolve(graph) == {CLEAN_ORDERS}


def test_selections_are_frozen_hashable_and_flatten() -> None:
    a, b, c = (AssetSelection.keys(k) for k in ("a", "b", "c"))
    assert a | b | c == AssetSelection.keys("a", "b", "c")
    assert hash(a | b) == hash(AssetSelection.keys("a", "b"))
    group = AssetSelection.groups("g")
    assert len(((a & group) & (b & c)).operands) == 4  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.asset_keys = ()  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        a | "b"  # type: ignore[operator]


# --------------------------------------------------------------------------------- string forms
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*", EVERYTHING),
        ("key:*", EVERYTHING),
        ("raw/orders", {RAW_ORDERS}),
        ("key:raw/orders", {RAW_ORDERS}),
        ('key:"raw/orders"', {RAW_ORDERS}),
        ("key:'raw/orders'", {RAW_ORDERS}),
        ('"raw/orders"', {RAW_ORDERS}),
        ("key:raw/*", {RAW_ORDERS, RAW_CUSTOMERS}),
        ('key:"raw/*"', {RAW_ORDERS, RAW_CUSTOMERS}),
        ("*orders", {RAW_ORDERS, CLEAN_ORDERS}),
        ("*s/c*", {CHURN}),
        ("raw*customers", {RAW_CUSTOMERS}),  # `*` spans the '/' separator
        ("reports/*", {REVENUE, CHURN}),
        ("key:nothing/*", set()),  # a glob matching nothing is not an error
        ("group:raw", {RAW_ORDERS, RAW_CUSTOMERS}),
        ("key_prefix:reports", {REVENUE, CHURN}),
        ("+reports/revenue", {REVENUE, CLEAN_ORDERS, RAW_ORDERS, RAW_CUSTOMERS}),
        ("1+reports/revenue", {REVENUE, CLEAN_ORDERS}),
        ("2+reports/revenue", {REVENUE, CLEAN_ORDERS, RAW_ORDERS, RAW_CUSTOMERS}),
        ("raw/orders+", {RAW_ORDERS, CLEAN_ORDERS, REVENUE, CHURN}),
        ("raw/orders+1", {RAW_ORDERS, CLEAN_ORDERS}),
        ("+clean/orders+", EVERYTHING),
        ("1+clean/orders+1", EVERYTHING),
        ("1+reports/churn+", {CHURN, CLEAN_ORDERS, RAW_CUSTOMERS}),
        ("+group:clean", {CLEAN_ORDERS, RAW_ORDERS, RAW_CUSTOMERS}),
        ("+(group:clean or key:raw/orders)", {CLEAN_ORDERS, RAW_ORDERS, RAW_CUSTOMERS}),
        ("(group:raw)+1", {RAW_ORDERS, RAW_CUSTOMERS, CLEAN_ORDERS, CHURN}),
        ("roots(*)", {RAW_ORDERS, RAW_CUSTOMERS}),
        ("sinks(+clean/orders)", {CLEAN_ORDERS}),
        ("ROOTS(group:reports)", {REVENUE, CHURN}),
        ("group:raw or group:reports", {RAW_ORDERS, RAW_CUSTOMERS, REVENUE, CHURN}),
        ("+reports/revenue and group:raw", {RAW_ORDERS, RAW_CUSTOMERS}),
        ("not group:raw", {CLEAN_ORDERS, REVENUE, CHURN}),
        ("not not group:clean", {CLEAN_ORDERS}),
        ("* and not key:reports/*", {RAW_ORDERS, RAW_CUSTOMERS, CLEAN_ORDERS}),
        ("group:raw AND NOT raw/orders", {RAW_CUSTOMERS}),
        ("group:raw Or group:clean", {RAW_ORDERS, RAW_CUSTOMERS, CLEAN_ORDERS}),
        # precedence: not > and > or
        ("group:raw or group:reports and reports/churn", {RAW_ORDERS, RAW_CUSTOMERS, CHURN}),
        ("(group:raw or group:reports) and reports/churn", {CHURN}),
        ("not group:raw and not group:reports", {CLEAN_ORDERS}),
        ("not (group:raw or group:reports)", {CLEAN_ORDERS}),
        ("not group:raw or group:raw", EVERYTHING),
        ("not +clean/orders", {REVENUE, CHURN}),  # traversal binds tighter than not
        # comma and space lists of keys (Dagster's older syntax)
        ("raw/orders,raw/customers", {RAW_ORDERS, RAW_CUSTOMERS}),
        ("raw/orders, raw/customers", {RAW_ORDERS, RAW_CUSTOMERS}),
        ("raw/orders raw/customers", {RAW_ORDERS, RAW_CUSTOMERS}),
        ("reports/revenue+ , +raw/orders", {REVENUE, RAW_ORDERS}),
        ("  raw/orders  ", {RAW_ORDERS}),
    ],
)
def test_string_forms(graph: AssetGraph, text: str, expected: set[AssetKey]) -> None:
    assert select(graph, text) == expected


def test_keywords_and_functions_are_only_special_in_position(graph: AssetGraph) -> None:
    odd = AssetGraph.build(parents={AssetKey("and"): (), AssetKey("roots"): (), AssetKey("2"): ()})
    assert select(odd, "key:and") == {AssetKey("and")}
    assert select(odd, "roots or key:and") == {AssetKey("roots"), AssetKey("and")}
    assert select(odd, "key:2+") == {AssetKey("2")}
    assert select(odd, "2+") == {AssetKey("2")}  # no operand after '+': the asset named 2


def test_string_and_python_forms_agree() -> None:
    assert AssetSelection.from_string("a, b c") == AssetSelection.keys("a", "b", "c")
    assert AssetSelection.from_string("2+a") == AssetSelection.keys("a").upstream(2)
    assert AssetSelection.from_string("+a+") == (
        AssetSelection.keys("a").upstream() | AssetSelection.keys("a").downstream()
    )


# --------------------------------------------------------------------------------- round trips
ROUND_TRIPS = [
    AssetSelection.all(),
    AssetSelection.keys(),
    AssetSelection.keys(REVENUE, CHURN),
    AssetSelection.groups("raw", "reports"),
    AssetSelection.key_prefixes("raw", "reports"),
    AssetSelection.keys(REVENUE).upstream(),
    AssetSelection.keys(REVENUE).upstream(1, include_self=False),
    AssetSelection.groups("raw").downstream(include_self=False),
    AssetSelection.keys(RAW_CUSTOMERS).downstream(1).upstream(1),
    (AssetSelection.groups("raw") | AssetSelection.keys(REVENUE)).upstream(2),
    AssetSelection.all().sinks() | AssetSelection.groups("clean").roots(),
    AssetSelection.all() - AssetSelection.groups("raw"),
    AssetSelection.all() - (AssetSelection.groups("raw") | AssetSelection.groups("clean")),
    (AssetSelection.groups("raw") | AssetSelection.groups("reports"))
    & (AssetSelection.all() - AssetSelection.keys(CHURN)),
    AssetSelection.groups("reports") - (AssetSelection.keys(CHURN) - AssetSelection.groups("raw")),
    AssetSelection.all() - (AssetSelection.all() - AssetSelection.groups("clean")),
    AssetSelection.from_string("+(group:clean or *s/c*)+1 and not roots(*)"),
]


@pytest.mark.parametrize("selection", ROUND_TRIPS, ids=str)
def test_round_trip(graph: AssetGraph, selection: AssetSelection) -> None:
    text = str(selection)
    parsed = AssetSelection.from_string(text)
    assert parsed.resolve(graph) == selection.resolve(graph)
    assert str(parsed) == text  # the canonical form is a fixed point
    assert repr(selection) == f"AssetSelection.from_string({text!r})"


def test_canonical_strings() -> None:
    revenue = AssetSelection.keys(REVENUE)
    assert str(revenue.upstream(2)) == "2+key:reports/revenue"
    assert str(revenue.downstream(include_self=False)) == (
        "key:reports/revenue+ and not key:reports/revenue"
    )
    assert str(AssetSelection.from_string("NOT (a OR group:g) AND b")) == (
        "not (key:a or group:g) and key:b"
    )
    assert str(AssetSelection.keys("a").upstream().downstream(1)) == "(+key:a)+1"


# --------------------------------------------------------------------------------------- errors
def test_parse_error_shows_text_and_caret() -> None:
    with pytest.raises(SelectionError) as info:
        AssetSelection.from_string("group:sales and")
    assert str(info.value) == (
        "Could not parse selection 'group:sales and': expected an asset, group or '(' "
        "after 'and' at position 15\n"
        "  group:sales and\n"
        "                 ^"
    )


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "the selection is empty"),
        ("a and or b", 6, "after 'and', found 'or'"),
        ("(a or b", 7, "expected ')' to close the '(' at position 0"),
        ("a)", 1, "expected 'and', 'or' or the end of the selection, found ')'"),
        ("a.b", 1, "unexpected character '.'"),
        ('key:"raw/orders', 4, "unterminated quote"),
        ("tag:pii", 0, "unknown attribute 'tag'"),
        ("key:", 4, "expected a value after 'key:'"),
        ("group:a/b", 6, "group names use only letters"),
        ("raw//orders", 0, "'raw//orders' is not a valid asset key"),
        ('key:"raw orders"', 4, "not a valid asset key"),
        ("a + b", 2, "'+' must touch the asset"),
        ("++a", 1, "expected an asset, group or '(' after '+'"),
        ("a,", 2, "expected an asset key after ','"),
        ("group:raw clean/orders", 10, "only asset keys can be listed"),
        ("a, group:raw", 3, "only asset keys can be listed"),
        ("a or b, c", 8, "only asset keys can be listed"),
        ("a(b)", 1, "expected 'and', 'or' or the end of the selection, found '('"),
        ("(" * 101 + "a" + ")" * 101, 100, "nest deeper than 100"),
    ],
)
def test_parse_errors(text: str, position: int, message: str) -> None:
    with pytest.raises(SelectionError) as info:
        AssetSelection.from_string(text)
    first_line, echoed, caret = str(info.value).split("\n")
    assert message in first_line
    assert first_line.endswith(f"at position {position}")
    assert echoed == f"  {text}"
    assert caret == " " * (2 + position) + "^"


def test_unknown_key_suggests_the_closest(graph: AssetGraph) -> None:
    sales = AssetGraph.build(parents={AssetKey("clean_sales"): (), AssetKey("raw_sales"): ()})
    with pytest.raises(UnknownAssetError) as info:
        AssetSelection.keys("clean_sale").resolve(sales)
    assert str(info.value) == "Unknown asset 'clean_sale' in selection. Did you mean 'clean_sales'?"
    with pytest.raises(UnknownAssetError, match=re.escape("Did you mean 'raw/orders'?")):
        select(graph, "+raw/order")
    twins = AssetGraph.build(
        parents={AssetKey(["raw", "orders"]): (), AssetKey(["raw", "orderz"]): ()}
    )
    with pytest.raises(UnknownAssetError, match=re.escape("'raw/orderz' or 'raw/orders'?")):
        AssetSelection.keys("raw/order").resolve(twins)
    with pytest.raises(UnknownAssetError, match=r"Unknown asset 'zzz' in selection\. Check"):
        select(graph, "zzz")


def test_unknown_group_lists_existing_groups(graph: AssetGraph) -> None:
    with pytest.raises(SelectionError) as info:
        AssetSelection.groups("report").resolve(graph)
    assert str(info.value) == (
        "Unknown group 'report' in selection. Did you mean 'reports'? Groups: clean, raw, reports."
    )


def test_invalid_names_fail_at_construction() -> None:
    with pytest.raises(InvalidNameError, match="not_a_group"):
        AssetSelection.groups("not a group")
    with pytest.raises(InvalidNameError):
        AssetSelection.keys("raw/*")


# ---------------------------------------------------------------------------------------- scale
def test_ten_thousand_asset_chain() -> None:
    keys = [AssetKey(f"asset_{index}") for index in range(10_000)]
    parents = {key: (keys[index - 1],) if index else () for index, key in enumerate(keys)}
    chain = AssetGraph.build(parents=parents)
    assert select(chain, "+asset_9999") == set(keys)
    assert select(chain, "asset_0+") == set(keys)
    assert select(chain, "3+asset_9999") == set(keys[-4:])
    assert select(chain, "roots(*) or sinks(*)") == {keys[0], keys[-1]}
    # A selection built in a deep chain of calls resolves without recursion.
    deep = AssetSelection.keys("asset_9999")
    for _ in range(2_000):
        deep = deep.upstream(1)
    assert deep.resolve(chain) == set(keys[-2_001:])


def test_long_key_lists_parse() -> None:
    text = ", ".join(f"asset_{index}" for index in range(10_000))
    selection = AssetSelection.from_string(text)
    assert len(selection.asset_keys) == 10_000  # type: ignore[attr-defined]


def test_docstring_examples() -> None:
    for module in (_selection, _selection_parser):
        assert doctest.testmod(module).failed == 0
