"""Asset selections: immutable, composable queries over an `AssetGraph`.

A selection is a small tree of frozen dataclasses (keys, groups, traversals, set operators) that
is resolved against a graph only when a run is planned, so the same selection can be stored with
a run, printed, parsed back and re-resolved against newer definitions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from raystra.definitions._graph import AssetGraph
from raystra.definitions._keys import AssetKey, CoercibleToAssetKey, validate_name
from raystra.errors import SelectionError, UnknownAssetError

__all__ = ["AssetSelection", "CoercibleToAssetSelection", "HasAssetKey", "HasAssetKeys"]

_KeySet = frozenset[AssetKey]


class HasAssetKey(Protocol):
    """Anything with a ``key``: an asset definition or `AssetSpec` producing one asset."""

    @property
    def key(self) -> AssetKey: ...


class HasAssetKeys(Protocol):
    """Anything with ``keys``: a multi-asset definition."""

    @property
    def keys(self) -> Iterable[AssetKey]: ...


# Binding strength of each node's string form, loosest first; `__str__` parenthesises an operand
# only when it binds more loosely than its position needs, so output stays short and parseable.
_OR, _AND, _NOT, _TRAVERSAL, _ATOM = range(1, 6)


@dataclass(frozen=True, repr=False)
class AssetSelection:
    """A set of assets described by keys, groups, traversals and set operators.

    Build selections with the classmethods, combine them with ``|``, ``&`` and ``-``, then call
    `resolve` with a graph. ``str(selection)`` is the canonical string syntax, which
    `from_string` parses back.

    Example:
        >>> sel = AssetSelection.groups("sales").upstream() - AssetSelection.keys("raw/orders")
        >>> str(sel)
        '+group:sales and not key:raw/orders'
        >>> str(AssetSelection.from_string("2+key:clean/orders or group:reports"))
        '2+key:clean/orders or group:reports'
    """

    # ----------------------------------------------------------------------------- constructors
    @classmethod
    def all(cls) -> AssetSelection:
        """Every asset in the graph (``*``), external `AssetSpec` assets included."""
        return AllSelection()

    @classmethod
    def keys(cls, *keys: CoercibleToAssetKey) -> AssetSelection:
        """Exactly these keys; resolving raises `UnknownAssetError` for a key not in the graph.

        Example:
            >>> str(AssetSelection.keys("raw/orders", ["clean", "orders"]))
            'key:raw/orders or key:clean/orders'
        """
        return KeysSelection(tuple(dict.fromkeys(AssetKey.from_coercible(key) for key in keys)))

    @classmethod
    def groups(cls, *names: str) -> AssetSelection:
        """Every asset in these groups; resolving raises `SelectionError` for an unknown group.

        Example:
            >>> str(AssetSelection.groups("raw", "clean"))
            'group:raw or group:clean'
        """
        return union(GroupSelection(validate_name(name, what="Group")) for name in names)

    @classmethod
    def key_prefixes(cls, *prefixes: str | Sequence[str]) -> AssetSelection:
        """Every asset whose key starts with one of these prefixes (``"raw"``, ``["raw", "eu"]``).

        Example:
            >>> str(AssetSelection.key_prefixes("raw", ["reports", "eu"]))
            'key_prefix:raw or key_prefix:reports/eu'
        """
        return union(KeyPrefixSelection(AssetKey.from_coercible(p).path) for p in prefixes)

    @classmethod
    def assets(cls, *defs: HasAssetKey | HasAssetKeys) -> AssetSelection:
        """The keys of these definitions (anything with ``.keys`` or ``.key``, or an `AssetKey`).

        Example:
            >>> class Spec:
            ...     key = AssetKey("orders")
            >>> str(AssetSelection.assets(Spec()))
            'key:orders'
        """
        keys: list[AssetKey] = []
        for definition in defs:
            found = _keys_of_definition(definition)
            if found is None:
                raise SelectionError(
                    f"AssetSelection.assets() takes asset definitions (objects with `.keys` or "
                    f"`.key`), not {definition!r}; use AssetSelection.keys() for key strings."
                )
            keys.extend(found)
        return KeysSelection(tuple(dict.fromkeys(keys)))

    @classmethod
    def from_string(cls, text: str) -> AssetSelection:
        """Parse the selection syntax, e.g. ``"+key:reports/revenue"`` or ``"group:sales"``.

        See `raystra.planning._selection_parser` for the grammar. Raises `SelectionError`
        with a caret under the offending position when the text does not parse.

        Example:
            >>> str(AssetSelection.from_string("raw/orders, raw/customers"))
            'key:raw/orders or key:raw/customers'
        """
        # Imported here because the parser builds selections, so it imports this module.
        from raystra.planning._selection_parser import parse_selection

        return parse_selection(text)

    @classmethod
    def from_coercible(cls, value: CoercibleToAssetSelection) -> AssetSelection:
        """Accept a selection string, an `AssetSelection`, a key, a definition or an iterable.

        Strings inside an iterable are asset keys (``["raw/orders"]``), not selection syntax.

        Example:
            >>> str(AssetSelection.from_coercible(["raw/orders", AssetKey("clean")]))
            'key:raw/orders or key:clean'
        """
        if isinstance(value, AssetSelection):
            return value
        if isinstance(value, str):
            return cls.from_string(value)
        items: Iterable[object] = [value]
        if isinstance(value, Iterable) and _keys_of_definition(value) is None:
            items = value
        keys: list[AssetKey] = []
        for item in items:
            found = _keys_of_definition(item)
            if found is None and isinstance(item, str | Sequence):
                found = [AssetKey.from_coercible(item)]
            if found is None:
                raise SelectionError(
                    f"Cannot select {item!r}: pass a selection string, an AssetSelection, or "
                    f"asset keys ('raw/orders', AssetKey(...)) and definitions."
                )
            keys.extend(found)
        return KeysSelection(tuple(dict.fromkeys(keys)))

    # -------------------------------------------------------------------------------- methods
    def upstream(self, depth: int | None = None, include_self: bool = True) -> AssetSelection:
        """This selection's ancestors, up to ``depth`` layers (all when None).

        With ``include_self=False`` the starting selection is removed from the result.

        Example:
            >>> str(AssetSelection.keys("reports/revenue").upstream(depth=2))
            '2+key:reports/revenue'
        """
        return TraversalSelection(self, "up", _check_depth(depth), include_self)

    def downstream(self, depth: int | None = None, include_self: bool = True) -> AssetSelection:
        """This selection's descendants, up to ``depth`` layers (all when None).

        Example:
            >>> str(AssetSelection.groups("raw").downstream())
            'group:raw+'
        """
        return TraversalSelection(self, "down", _check_depth(depth), include_self)

    def roots(self) -> AssetSelection:
        """The assets of this selection none of whose parents is in the selection.

        Example:
            >>> str(AssetSelection.keys("reports/revenue").upstream().roots())
            'roots(+key:reports/revenue)'
        """
        return EndsSelection(self, "roots")

    def sinks(self) -> AssetSelection:
        """The assets of this selection none of whose children is in the selection."""
        return EndsSelection(self, "sinks")

    def __or__(self, other: AssetSelection) -> AssetSelection:
        if not isinstance(other, AssetSelection):
            return NotImplemented
        return union([self, other])

    def __and__(self, other: AssetSelection) -> AssetSelection:
        if not isinstance(other, AssetSelection):
            return NotImplemented
        return intersection([self, other])

    def __sub__(self, other: AssetSelection) -> AssetSelection:
        if not isinstance(other, AssetSelection):
            return NotImplemented
        return SubtractSelection(self, other)

    def resolve(self, graph: AssetGraph) -> frozenset[AssetKey]:
        """The keys of ``graph`` this selection names.

        Runs in O(V + E) per traversal node. Evaluation walks the tree with an explicit stack,
        so deeply chained selections never hit Python's recursion limit.

        Example:
            >>> a, b = AssetKey("a"), AssetKey("b")
            >>> graph = AssetGraph.build(parents={a: (), b: (a,)})
            >>> sorted(AssetSelection.keys("b").upstream().resolve(graph))
            [AssetKey('a'), AssetKey('b')]
        """
        results: dict[int, _KeySet] = {}
        stack: list[tuple[AssetSelection, bool]] = [(self, False)]
        while stack:
            node, operands_done = stack.pop()
            if operands_done:
                resolved = [results[id(operand)] for operand in node._operands()]
                results[id(node)] = node._apply(graph, resolved)
            elif id(node) not in results:
                stack.append((node, True))
                stack.extend((operand, False) for operand in node._operands())
        return results[id(self)]

    # ------------------------------------------------------------------ node protocol (private)
    def _operands(self) -> tuple[AssetSelection, ...]:
        return ()

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        raise NotImplementedError(f"{type(self).__name__} cannot be resolved")

    def _precedence(self) -> int:
        return _ATOM

    def _format(self) -> str:
        raise NotImplementedError(type(self).__name__)

    def __str__(self) -> str:
        return self._format()

    def __repr__(self) -> str:
        return f"AssetSelection.from_string({self._format()!r})"


CoercibleToAssetSelection = (
    str | AssetSelection | AssetKey | HasAssetKey | HasAssetKeys | Iterable[object]
)


@dataclass(frozen=True, repr=False)
class AllSelection(AssetSelection):
    """``*``: every key in the graph."""

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        return graph.keys

    def _format(self) -> str:
        return "*"


@dataclass(frozen=True, repr=False)
class KeysSelection(AssetSelection):
    """``key:a or key:b``: exactly these keys, each of which must exist (empty: nothing)."""

    asset_keys: tuple[AssetKey, ...]

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        unknown = [key for key in self.asset_keys if key not in graph.parents]
        if unknown:
            raise UnknownAssetError(_unknown_keys_message(unknown, graph))
        return frozenset(self.asset_keys)

    def _precedence(self) -> int:
        count = len(self.asset_keys)
        return _ATOM if count == 1 else _OR if count else _NOT

    def _format(self) -> str:
        # The empty selection has no atom of its own; `not *` is its shortest spelling.
        return " or ".join(f"key:{key.to_user_string()}" for key in self.asset_keys) or "not *"


@dataclass(frozen=True, repr=False)
class KeyGlobSelection(AssetSelection):
    """``key:raw/*``: keys whose ``a/b`` form matches a glob; ``*`` also matches ``/``."""

    pattern: str

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        return frozenset(k for k in graph.keys if _glob_match(self.pattern, k.to_user_string()))

    def _format(self) -> str:
        return f"key:{self.pattern}"


@dataclass(frozen=True, repr=False)
class GroupSelection(AssetSelection):
    """``group:sales``: every asset in the group, which must exist."""

    group_name: str

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        found = frozenset(key for key in graph.keys if graph.group_of(key) == self.group_name)
        if not found:
            existing = sorted({graph.group_of(key) for key in graph.keys})
            raise SelectionError(_unknown_group_message(self.group_name, existing))
        return found

    def _format(self) -> str:
        return f"group:{self.group_name}"


@dataclass(frozen=True, repr=False)
class KeyPrefixSelection(AssetSelection):
    """``key_prefix:raw``: every key whose path starts with the prefix's parts."""

    prefix: tuple[str, ...]

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        size = len(self.prefix)
        return frozenset(key for key in graph.keys if key.path[:size] == self.prefix)

    def _format(self) -> str:
        return f"key_prefix:{'/'.join(self.prefix)}"


@dataclass(frozen=True, repr=False)
class TraversalSelection(AssetSelection):
    """``+x``, ``2+x`` (up) or ``x+``, ``x+2`` (down): ``depth`` layers of relatives (None: all).

    Without ``include_self`` the child itself is removed, spelled ``+x and not x``.
    """

    child: AssetSelection
    direction: Literal["up", "down"]
    depth: int | None = None
    include_self: bool = True

    def _operands(self) -> tuple[AssetSelection, ...]:
        return (self.child,)

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        edges = graph.parents if self.direction == "up" else graph.children
        reached = _traverse(edges, operands[0], self.depth)
        return reached if self.include_self else reached - operands[0]

    def _precedence(self) -> int:
        return _TRAVERSAL if self.include_self else _AND

    def _format(self) -> str:
        depth, child = "" if self.depth is None else str(self.depth), _wrap(self.child, _ATOM)
        text = f"{depth}+{child}" if self.direction == "up" else f"{child}+{depth}"
        return text if self.include_self else f"{text} and not {_wrap(self.child, _NOT)}"


@dataclass(frozen=True, repr=False)
class EndsSelection(AssetSelection):
    """``roots(x)`` / ``sinks(x)``: members of x with no parent (child) inside x."""

    child: AssetSelection
    end: Literal["roots", "sinks"]

    def _operands(self) -> tuple[AssetSelection, ...]:
        return (self.child,)

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        selected = operands[0]
        edges = graph.parents if self.end == "roots" else graph.children
        return frozenset(k for k in selected if selected.isdisjoint(edges.get(k, ())))

    def _format(self) -> str:
        return f"{self.end}({self.child._format()})"


@dataclass(frozen=True, repr=False)
class OrSelection(AssetSelection):
    """``a or b``: the union of the operands."""

    operands: tuple[AssetSelection, ...]

    def _operands(self) -> tuple[AssetSelection, ...]:
        return self.operands

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        return frozenset[AssetKey]().union(*operands)

    def _precedence(self) -> int:
        return _OR

    def _format(self) -> str:
        return " or ".join(_wrap(operand, _OR) for operand in self.operands)


@dataclass(frozen=True, repr=False)
class AndSelection(AssetSelection):
    """``a and b``: the intersection of the operands."""

    operands: tuple[AssetSelection, ...]

    def _operands(self) -> tuple[AssetSelection, ...]:
        return self.operands

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        return operands[0].intersection(*operands[1:])

    def _precedence(self) -> int:
        return _AND

    def _format(self) -> str:
        return " and ".join(_wrap(operand, _AND) for operand in self.operands)


@dataclass(frozen=True, repr=False)
class SubtractSelection(AssetSelection):
    """``a and not b`` (``not b`` when ``a`` is everything): ``left`` minus ``right``."""

    left: AssetSelection
    right: AssetSelection

    def _operands(self) -> tuple[AssetSelection, ...]:
        return (self.left, self.right)

    def _apply(self, graph: AssetGraph, operands: Sequence[_KeySet]) -> _KeySet:
        return operands[0] - operands[1]

    def _precedence(self) -> int:
        return _NOT if isinstance(self.left, AllSelection) else _AND

    def _format(self) -> str:
        negated = f"not {_wrap(self.right, _NOT)}"
        if isinstance(self.left, AllSelection):
            return negated
        return f"{_wrap(self.left, _AND)} and {negated}"


def union(selections: Iterable[AssetSelection]) -> AssetSelection:
    """Union several selections at once, flattening nested unions and merging plain keys.

    Merging keeps ``a or b or c`` a single `KeysSelection`, built in linear time even for the
    thousands of keys a CLI list or an ``|`` chain may hold.
    """
    operands: list[AssetSelection] = []
    keys: dict[AssetKey, None] = {}
    keys_at: int | None = None
    for selection in selections:
        flat = selection.operands if isinstance(selection, OrSelection) else (selection,)
        for operand in flat:
            if isinstance(operand, KeysSelection):
                if keys_at is None:
                    keys_at = len(operands)
                    operands.append(operand)
                keys.update(dict.fromkeys(operand.asset_keys))
            else:
                operands.append(operand)
    if keys_at is not None:
        operands[keys_at] = KeysSelection(tuple(keys))
    if not operands:
        return KeysSelection(())
    return operands[0] if len(operands) == 1 else OrSelection(tuple(operands))


def intersection(selections: Iterable[AssetSelection]) -> AssetSelection:
    """Intersect several selections at once, flattening nested intersections."""
    operands: list[AssetSelection] = []
    for selection in selections:
        operands.extend(selection.operands if isinstance(selection, AndSelection) else (selection,))
    if not operands:
        return AllSelection()
    return operands[0] if len(operands) == 1 else AndSelection(tuple(operands))


def _wrap(selection: AssetSelection, at_least: int) -> str:
    text = selection._format()
    return f"({text})" if selection._precedence() < at_least else text


def _check_depth(depth: int | None) -> int | None:
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise SelectionError(f"Traversal depth must be a whole number >= 0 or None, got {depth!r}.")
    return depth


def _traverse(edges: Mapping[AssetKey, _KeySet], start: _KeySet, depth: int | None) -> _KeySet:
    """Breadth-first search from ``start`` along ``edges``, at most ``depth`` layers deep."""
    seen = set(start)
    frontier = list(start)
    layer = 0
    while frontier and (depth is None or layer < depth):
        layer += 1
        next_frontier: list[AssetKey] = []
        for key in frontier:
            for neighbour in edges.get(key, ()):
                if neighbour not in seen:
                    seen.add(neighbour)
                    next_frontier.append(neighbour)
        frontier = next_frontier
    return frozenset(seen)


def _glob_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern``, where ``*`` stands for any run of characters."""
    head, *middle_and_tail = pattern.split("*")
    if not middle_and_tail:
        return pattern == text
    *middle, tail = middle_and_tail
    if len(head) + len(tail) > len(text) or not (text.startswith(head) and text.endswith(tail)):
        return False
    position, end = len(head), len(text) - len(tail)
    for piece in middle:  # leftmost matches are always safe when the only wildcard is `*`
        found = text.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _keys_of_definition(value: object) -> list[AssetKey] | None:
    """The keys of an `AssetKey`, or of a definition with ``.keys`` or ``.key``; else None."""
    if isinstance(value, AssetKey):
        return [value]
    keys = getattr(value, "keys", None)
    if keys is not None and not callable(keys) and isinstance(keys, Iterable):
        found = list(keys)
        if all(isinstance(key, AssetKey) for key in found):
            return found
    key = getattr(value, "key", None)
    return [key] if isinstance(key, AssetKey) else None


def _did_you_mean(name: str, existing: Sequence[str]) -> str:
    matches = difflib.get_close_matches(name, existing, n=3)  # best first
    scores = [difflib.SequenceMatcher(None, name, match).ratio() for match in matches]
    # Offer only the near-best matches: a clear winner should not come with weaker noise.
    close = [f"'{m}'" for m, score in zip(matches, scores, strict=True) if score >= scores[0] - 0.1]
    if not close:
        return ""
    listed = close[0] if len(close) == 1 else f"{', '.join(close[:-1])} or {close[-1]}"
    return f" Did you mean {listed}?"


def _unknown_keys_message(unknown: Sequence[AssetKey], graph: AssetGraph) -> str:
    existing = [key.to_user_string() for key in graph.keys]
    hints = [_did_you_mean(key.to_user_string(), existing) for key in unknown]
    message = " ".join(
        f"Unknown asset '{key.to_user_string()}' in selection.{hint}"
        for key, hint in zip(unknown, hints, strict=True)
    )
    if any(hints):
        return message
    return f"{message} Check the spelling, or select by pattern, e.g. 'key:raw/*'."


def _unknown_group_message(name: str, existing: Sequence[str]) -> str:
    listing = ", ".join(existing) or "none"
    return f"Unknown group '{name}' in selection.{_did_you_mean(name, existing)} Groups: {listing}."
