"""The selection string syntax: a tokenizer and a recursive-descent parser.

The syntax is Dagster's current one, plus comma/space lists of keys for users of its older one.
Grammar, loosest binding first::

    selection := item ((',' | spaces) item)*     -- several items only when each is a key
    item      := or_expr
    or_expr   := and_expr ('or' and_expr)*
    and_expr  := not_expr ('and' not_expr)*
    not_expr  := 'not' not_expr | traversal
    traversal := [[DIGITS] '+'] primary ['+' [DIGITS]]
    primary   := '(' or_expr ')' | ('roots' | 'sinks') '(' or_expr ')' | '*'
               | 'key:' value | 'key_prefix:' value | 'group:' value | value
    value     := WORD | '"' text '"' | "'" text "'"   -- WORD: letters, digits, '_', '/', '*'

Keywords and attribute names are case-insensitive. A ``+`` binds to the side it touches
(``+x``, ``x+``, ``2+x``, ``x+2``), which keeps ``a +b`` an unambiguous two-item list. ``+x+``
is the union of ``+x`` and ``x+``. A value containing ``*`` is a glob over the ``a/b`` key form.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from enum import Enum

from raystra.definitions._keys import AssetKey
from raystra.errors import InvalidNameError, SelectionError
from raystra.planning._selection import AssetSelection, KeyGlobSelection, intersection, union

__all__ = ["parse_selection"]

_WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_/*")
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_")
_KEYWORDS = frozenset({"and", "or", "not"})
_FUNCTIONS = frozenset({"roots", "sinks"})
_MAX_NESTING = 100  # bounds parser recursion far below Python's limit


class _Kind(Enum):
    WORD = "word"
    STRING = "string"
    ATTR = "attribute"
    LPAREN = "("
    RPAREN = ")"
    PLUS = "+"
    COMMA = ","
    EOF = "end"


_PUNCTUATION = {"(": _Kind.LPAREN, ")": _Kind.RPAREN, "+": _Kind.PLUS, ",": _Kind.COMMA}


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str  # a word, an attribute name without ':', or a string without its quotes
    start: int
    end: int


def parse_selection(text: str) -> AssetSelection:
    """Parse ``text`` into an `AssetSelection`, raising `SelectionError` with a caret on failure.

    Example:
        >>> str(parse_selection("+(group:sales OR key:x) and not raw/*"))
        '+(group:sales or key:x) and not key:raw/*'
    """
    return _Parser(text).parse()


def syntax_error(text: str, position: int, message: str) -> SelectionError:
    """A `SelectionError` quoting ``text`` with a caret under ``position``."""
    shown = "".join(" " if char.isspace() else char for char in text)
    return SelectionError(
        f"Could not parse selection {text!r}: {message} at position {position}\n"
        f"  {shown}\n  {' ' * position}^"
    )


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[char], char, index, index + 1))
            index += 1
        elif char in "\"'":
            close = text.find(char, index + 1)
            if close < 0:
                raise syntax_error(text, index, f"unterminated quote {char}")
            tokens.append(_Token(_Kind.STRING, text[index + 1 : close], index, close + 1))
            index = close + 1
        elif char in _WORD_CHARS:
            end = index
            while end < len(text) and text[end] in _WORD_CHARS:
                end += 1
            if end < len(text) and text[end] == ":":
                tokens.append(_Token(_Kind.ATTR, text[index:end], index, end + 1))
                index = end + 1
            else:
                tokens.append(_Token(_Kind.WORD, text[index:end], index, end))
                index = end
        else:
            raise syntax_error(text, index, f"unexpected character {char!r}")
    tokens.append(_Token(_Kind.EOF, "", len(text), len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokenize(text)
        self._index = 0
        self._nesting = 0
        # Counts operators, groups and parentheses parsed so far: an item that adds none is a
        # plain key, the only kind a comma or space list may hold.
        self._compound = 0

    # ---------------------------------------------------------------------------- token access
    def _current(self) -> _Token:
        return self._tokens[self._index]

    def _peek(self, offset: int = 1) -> _Token:
        return self._tokens[min(self._index + offset, len(self._tokens) - 1)]

    def _previous(self) -> _Token | None:
        return self._tokens[self._index - 1] if self._index else None

    def _advance(self) -> _Token:
        token = self._current()
        if token.kind is not _Kind.EOF:
            self._index += 1
        return token

    def _touches_previous(self, token: _Token) -> bool:
        previous = self._previous()
        return previous is not None and previous.end == token.start

    def _is_keyword(self, token: _Token, word: str) -> bool:
        return token.kind is _Kind.WORD and token.text.lower() == word

    def _starts_operand(self, token: _Token) -> bool:
        if token.kind is _Kind.WORD:
            return token.text.lower() not in ("and", "or")
        return token.kind in (_Kind.STRING, _Kind.ATTR, _Kind.LPAREN, _Kind.PLUS)

    def _starts_primary(self, token: _Token) -> bool:
        if token.kind is _Kind.WORD:
            return token.text.lower() not in _KEYWORDS
        return token.kind in (_Kind.STRING, _Kind.ATTR, _Kind.LPAREN)

    def _describe(self, token: _Token) -> str:
        if token.kind is _Kind.EOF:
            return "the end of the selection"
        return repr(self._text[token.start : token.end])

    def _error(self, token: _Token, message: str) -> SelectionError:
        return syntax_error(self._text, token.start, message)

    # ---------------------------------------------------------------------------------- grammar
    def parse(self) -> AssetSelection:
        if self._current().kind is _Kind.EOF:
            raise self._error(self._current(), "the selection is empty (use '*' for every asset)")
        items = [self._list_item()]
        while self._current().kind is not _Kind.EOF:
            token = self._current()
            if token.kind is _Kind.COMMA:
                self._advance()
                if self._current().kind is _Kind.EOF:
                    raise self._error(self._current(), "expected an asset key after ','")
            elif not self._starts_operand(token) or self._touches_previous(token):
                raise self._error(
                    token,
                    f"expected 'and', 'or' or the end of the selection, "
                    f"found {self._describe(token)}",
                )
            items.append(self._list_item())
        if len(items) > 1:
            for index, (_, plain, _) in enumerate(items):
                if not plain:
                    # A compound first item only looks wrong once the second one starts.
                    raise self._error(
                        items[max(index, 1)][0],
                        "only asset keys can be listed with commas or spaces; "
                        "join other expressions with 'or'",
                    )
        return union(selection for _, _, selection in items)

    def _list_item(self) -> tuple[_Token, bool, AssetSelection]:
        start, compound_before = self._current(), self._compound
        selection = self._or_expr()
        return start, self._compound == compound_before, selection

    def _or_expr(self) -> AssetSelection:
        operands = [self._and_expr()]
        while self._is_keyword(self._current(), "or"):
            self._advance()
            self._compound += 1
            operands.append(self._and_expr())
        return union(operands)

    def _and_expr(self) -> AssetSelection:
        operands = [self._not_expr()]
        while self._is_keyword(self._current(), "and"):
            self._advance()
            self._compound += 1
            operands.append(self._not_expr())
        return intersection(operands)

    def _not_expr(self) -> AssetSelection:
        negations = 0  # counted in a loop so `not not ... x` never recurses
        while self._is_keyword(self._current(), "not"):
            self._advance()
            negations += 1
        selection = self._traversal()
        for _ in range(negations):
            self._compound += 1
            selection = AssetSelection.all() - selection
        return selection

    def _traversal(self) -> AssetSelection:
        up, up_depth = False, None
        token = self._current()
        if token.kind is _Kind.PLUS:
            self._advance()
            if self._current().start != token.end:
                raise self._error(token, "'+' must touch the asset it applies to, as in '+x'")
            up = True
        elif self._is_depth(token) and self._touching(token, self._peek(), self._peek(2)):
            up, up_depth = True, int(token.text)
            self._advance()
            self._advance()
        selection = self._primary()

        down, down_depth = False, None
        if self._current().kind is _Kind.PLUS and self._touches_previous(self._current()):
            plus = self._advance()
            down = True
            if self._is_depth(self._current()) and self._current().start == plus.end:
                down_depth = int(self._advance().text)

        if up and down:
            return selection.upstream(up_depth) | selection.downstream(down_depth)
        if up:
            return selection.upstream(up_depth)
        return selection.downstream(down_depth) if down else selection

    def _is_depth(self, token: _Token) -> bool:
        return token.kind is _Kind.WORD and token.text.isdigit()

    def _touching(self, depth: _Token, plus: _Token, operand: _Token) -> bool:
        """Whether ``2+x`` reads as a depth: digits, '+' and an operand with no spaces between.

        Otherwise ``2+`` is the asset ``2`` and its descendants.
        """
        return (
            plus.kind is _Kind.PLUS
            and depth.end == plus.start
            and plus.end == operand.start
            and self._starts_primary(operand)
        )

    def _primary(self) -> AssetSelection:
        token = self._current()
        if token.kind is _Kind.LPAREN:
            return self._parenthesised()
        if token.kind is _Kind.ATTR:
            return self._attribute()
        function = token.text.lower()
        if (
            token.kind is _Kind.WORD
            and function in _FUNCTIONS
            and self._peek().kind is _Kind.LPAREN
        ):
            self._advance()
            inner = self._parenthesised()
            return inner.roots() if function == "roots" else inner.sinks()
        if token.kind is _Kind.STRING or self._starts_primary(token):
            self._advance()
            return self._key_or_glob(token)
        previous = self._previous()
        message = "expected an asset, group or '('"
        if previous is not None:
            message += f" after {self._describe(previous)}"
        if token.kind is not _Kind.EOF:
            message += f", found {self._describe(token)}"
        raise self._error(token, message)

    def _parenthesised(self) -> AssetSelection:
        opening = self._advance()
        if self._nesting >= _MAX_NESTING:
            raise self._error(opening, f"parentheses nest deeper than {_MAX_NESTING} levels")
        self._compound += 1
        self._nesting += 1
        selection = self._or_expr()
        self._nesting -= 1
        if self._current().kind is not _Kind.RPAREN:
            raise self._error(
                self._current(),
                f"expected ')' to close the '(' at position {opening.start}, "
                f"found {self._describe(self._current())}",
            )
        self._advance()
        return selection

    def _attribute(self) -> AssetSelection:
        attribute = self._advance()
        name = attribute.text.lower()
        if name not in ("key", "group", "key_prefix"):
            raise self._error(
                attribute, f"unknown attribute {attribute.text!r} (use key:, group: or key_prefix:)"
            )
        value = self._current()
        if value.kind not in (_Kind.WORD, _Kind.STRING) or not value.text:
            raise self._error(value, f"expected a value after '{attribute.text}:'")
        self._advance()
        if name == "key":
            return self._key_or_glob(value)
        self._compound += 1
        if name == "group":
            if not set(value.text) <= _NAME_CHARS:
                raise self._error(value, "group names use only letters, digits and '_'")
            return AssetSelection.groups(value.text)
        return AssetSelection.key_prefixes(self._asset_key(value).path)

    def _key_or_glob(self, token: _Token) -> AssetSelection:
        text = token.text
        if text == "*":
            return AssetSelection.all()
        if "*" in text:
            if not set(text) <= _WORD_CHARS:
                raise self._error(token, f"{text!r} is not a valid key pattern")
            return KeyGlobSelection(text.strip("/"))
        return AssetSelection.keys(self._asset_key(token))

    def _asset_key(self, token: _Token) -> AssetKey:
        try:
            return AssetKey.from_user_string(token.text)
        except InvalidNameError:
            raise self._error(
                token,
                f"{token.text!r} is not a valid asset key (use letters, digits and '_', "
                f"with '/' between parts)",
            ) from None
