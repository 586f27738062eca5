"""OPTIMADE filters as SQLAlchemy expressions, parsed with ``optimade``'s own Lark grammar.

The parse tree is turned into an expression over ``fields.STRUCTURES`` (or another
``Resource``) whose every value is a bound parameter, so no filter text ever reaches SQL.
Comparisons with an unknown (NULL) value follow SQL's three-valued logic, which is exactly
what the reference server does: ``band_gap > 1`` and ``NOT band_gap > 1`` both leave out
entries without a gap, ``band_gap IS UNKNOWN`` finds them.

``FilterError`` is the user's mistake (HTTP 400); ``UnsupportedFilter`` is valid OPTIMADE that
atlas2d does not implement (HTTP 501), e.g. correlated ``:`` list queries or nested properties,
and so is ``TypeMismatch``: the specification asks for 501 when a value's type differs from
the property's (``nelements = "2"``, ``nsites LENGTH 3``), since type conversion is not part
of the language. Properties of other providers (``_exmpl_x``) are unknown here, so every
comparison on them is unknown too; for a prefix not in ``optimade``'s list of providers the
filter also warns (``UnknownProviderProperty``), as the specification recommends.
"""

from __future__ import annotations

import math
import re
import warnings
from datetime import datetime
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import LarkError, VisitError
from optimade.warnings import UnknownProviderProperty
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    Text,
    and_,
    any_,
    cast,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY

from atlas2d.api.optimade.fields import (
    PROVIDER_PREFIX,
    STRUCTURE_RESOURCE,
    Field,
    Kind,
    Resource,
)

MAX_FILTER_LENGTH = 4_096
"""Characters. Longer filters are refused before parsing: no real query is that long, and a
bound keeps every request's parse and SQL small."""

MAX_DEPTH = 50
"""Bracket nesting levels; deeper filters are refused before parsing (a deep tree would
exhaust the transformer's stack)."""

_TREE_DEPTH = 4 * MAX_DEPTH + 20
"""Parse-tree depth allowed: each bracket level adds four tree levels, plus a comparison's own."""

LIST_ITEMS: dict[str, type] = {
    "elements": str,
    "species_at_sites": str,
    "structure_features": str,
    "elements_ratios": float,
    "dimension_types": int,
}
"""Item type of each list property, to check filter values and type array parameters."""

_SQL_ITEM_TYPES = {str: Text, float: Float, int: Integer}
_INT4 = 2**31
_OPERATORS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_REVERSED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


class FilterError(ValueError):
    """The filter is not valid OPTIMADE or does not fit the properties it names (HTTP 400)."""


class UnsupportedFilter(FilterError):
    """The filter is valid OPTIMADE but uses a feature atlas2d does not implement (HTTP 501)."""


class TypeMismatch(UnsupportedFilter):
    """A value of another type than its property's: the specification answers it with 501."""


@lru_cache(maxsize=1)
def known_provider_prefixes() -> frozenset[str]:
    """Prefixes of the providers ``optimade`` ships a list of: their fields are unknown here, without a warning."""
    from optimade.server.data import providers

    return frozenset(provider["id"] for provider in providers.get("data", []))


@lru_cache(maxsize=1)
def _parser() -> Lark:
    """An LALR(1) parser of ``optimade``'s newest filter grammar.

    ``optimade``'s own ``LarkParser`` runs Lark's Earley parser on this grammar, which costs
    3-8 ms per filter (twice per request, since ``include=references`` is a filter too). The
    grammar is LALR(1) (Lark builds the table without conflicts), so the LALR parser gives the
    same tree in about 0.1 ms. The one difference is lexing: LALR takes the longest token, as
    usual, so glued input such as ``x > 1.5!=y`` is an error, where Earley's dynamic lexer
    splits ``1.5`` into ``1`` and ``.5`` and reads two juxtaposed comparisons.
    """
    from optimade.filterparser.lark_parser import AVAILABLE_PARSERS

    newest = max(version for version, variants in AVAILABLE_PARSERS.items() if variants.get("default"))
    with open(AVAILABLE_PARSERS[newest]["default"]) as grammar:
        return Lark(grammar, parser="lalr", maybe_placeholders=False)


def parse(text: str) -> Tree:
    """The Lark tree of ``text`` under the newest OPTIMADE grammar; ``FilterError`` if invalid."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}")
    if "\x00" in text:
        raise FilterError("filter contains a NUL character")
    _check_brackets(text)
    try:
        tree = _parser().parse(text)
    except LarkError as exc:
        raise FilterError(f"cannot parse filter: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise FilterError(f"filter is nested deeper than {MAX_DEPTH} levels") from None
    _check_depth(tree)
    return tree


def filter_clause(text: str, resource: Resource = STRUCTURE_RESOURCE) -> ColumnElement[bool]:
    """The SQLAlchemy condition of OPTIMADE filter ``text`` over ``resource.selectable``.

    Use it as ``select(...).select_from(fields.STRUCTURES).where(filter_clause(text))``.
    Raises ``FilterError`` (bad filter) or ``UnsupportedFilter`` (valid but not implemented).
    """
    tree = parse(text)
    try:
        return _ToSql(resource).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, FilterError):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, RecursionError):
            raise FilterError(f"filter is nested deeper than {MAX_DEPTH} levels") from None
        raise


def _check_brackets(text: str) -> None:
    """Refuse bracket nesting deeper than ``MAX_DEPTH`` before parsing (deep input is slow to parse)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped = char == "\\" and not escaped
            in_string = escaped or char != '"'
        elif char == '"':
            in_string = True
        elif char == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise FilterError(f"filter is nested deeper than {MAX_DEPTH} levels")
        elif char == ")":
            depth -= 1


def _check_depth(tree: Tree) -> None:
    """Refuse trees deeper than ``_TREE_DEPTH`` (iteratively: the check itself must not recurse)."""
    stack: list[tuple[Tree, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > _TREE_DEPTH:
            raise FilterError(f"filter is nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def _unescape(token: str) -> str:
    r"""The value of an OPTIMADE string literal: quotes removed, ``\"`` and ``\\`` unescaped."""
    return re.sub(r"\\(.)", r"\1", token[1:-1], flags=re.DOTALL)


class _Unknown:
    """A property of another provider: unknown here, so every comparison on it is unknown."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Boolean:
    """A ``TRUE`` or ``FALSE`` value (the grammar drops which): atlas2d has no boolean property,
    so it only ever meets an unknown property (unknown) or a property of another type (501)."""


class _ToSql(Transformer):
    """Lark transformer from the OPTIMADE grammar to SQLAlchemy expressions."""

    def __init__(self, resource: Resource) -> None:
        super().__init__()
        self.resource = resource

    def filter(self, args: list[Any]) -> ColumnElement[bool]:
        if not args:
            return true()
        if len(args) > 1:
            raise FilterError("a filter is one expression; join expressions with AND or OR")
        return args[0]

    def expression(self, args: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        return or_(*args) if len(args) > 1 else args[0]

    def expression_clause(self, args: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        return and_(*args) if len(args) > 1 else args[0]

    def expression_phrase(self, args: list[Any]) -> ColumnElement[bool]:
        if len(args) == 2:
            return not_(args[1])
        return args[0]

    @v_args(inline=True)
    def comparison(self, value: ColumnElement[bool]) -> ColumnElement[bool]:
        return value

    def property(self, args: list[Token]) -> Field | _Unknown:
        name = str(args[0])
        if len(args) > 1:
            raise UnsupportedFilter(f"nested property {'.'.join(map(str, args))!r} cannot be filtered on")
        field = self.resource.fields.get(name)
        if field is not None:
            return field
        if name.startswith(f"_{PROVIDER_PREFIX}_"):
            raise FilterError(f"'{name}' is not a known or searchable quantity")
        prefix = re.match(r"_([a-z0-9]+)_", name)
        if prefix:
            if prefix.group(1) not in known_provider_prefixes():
                warnings.warn(
                    UnknownProviderProperty(f"Field {name!r} has an unrecognised prefix: this property has been treated as UNKNOWN.")
                )
            return _Unknown(name)
        raise FilterError(f"'{name}' is not a known or searchable quantity")

    @v_args(inline=True)
    def string(self, token: Token) -> str:
        return _unescape(str(token))

    @v_args(inline=True)
    def number(self, token: Token) -> int | float:
        if token.type == "SIGNED_INT":
            return int(token)
        value = float(token)
        if not math.isfinite(value):
            raise UnsupportedFilter(f"{token} is outside the range of 64-bit floats (magnitudes up to about 1.8e308)")
        return value

    @v_args(inline=True)
    def signed_int(self, token: Token) -> int:
        return int(token)

    def bool(self, args: list[Any]) -> _Boolean:
        return _Boolean()

    @v_args(inline=True)
    def value(self, value: Any) -> Any:
        return value

    @v_args(inline=True)
    def constant(self, value: Any) -> Any:
        return value

    @v_args(inline=True)
    def non_string_value(self, value: Any) -> Any:
        return value

    @v_args(inline=True)
    def not_implemented_string(self, value: str) -> Any:
        raise UnsupportedFilter("comparisons with a string constant on the left are not supported")

    def value_list(self, args: list[Any]) -> list[Any]:
        if any(isinstance(a, Token) and a.type == "OPERATOR" for a in args):
            raise UnsupportedFilter("operators inside HAS ALL / HAS ANY / HAS ONLY lists are not supported")
        return args

    def value_zip(self, args: list[Any]) -> Any:
        raise UnsupportedFilter("correlated list queries (':') are not supported")

    value_zip_list = value_zip
    set_zip_op_rhs = value_zip
    property_zip_addon = value_zip

    def value_op_rhs(self, args: list[Any]) -> tuple[str, str, Any]:
        return ("op", str(args[0]), args[1])

    def known_op_rhs(self, args: list[Token]) -> tuple[str, bool]:
        return ("known", args[1].type == "KNOWN")

    def fuzzy_string_op_rhs(self, args: list[Any]) -> tuple[str, str, Any]:
        return ("fuzzy", str(args[0]), args[-1])

    def set_op_rhs(self, args: list[Any]) -> tuple[str, str, Any]:
        if len(args) == 2:
            return ("has", "=", args[1])
        if isinstance(args[1], Token) and args[1].type == "OPERATOR":
            return ("has", str(args[1]), args[2])
        return ("has_" + str(args[1]).lower(), "", args[2])

    def length_op_rhs(self, args: list[Any]) -> tuple[str, str, int]:
        operator = str(args[1]) if len(args) == 3 else "="
        return ("length", operator, args[-1])

    def property_first_comparison(self, args: list[Any]) -> ColumnElement[bool]:
        target, rhs = args
        return self._compare(target, rhs)

    def constant_first_comparison(self, args: list[Any]) -> ColumnElement[bool]:
        constant, operator, target = args
        if not isinstance(target, Field | _Unknown):
            raise UnsupportedFilter("comparisons between two constants are not supported")
        return self._compare(target, ("op", _REVERSED[str(operator)], constant))

    def _compare(self, target: Field | _Unknown, rhs: tuple) -> ColumnElement[bool]:
        kind = rhs[0]
        value = rhs[-1]
        if isinstance(value, Field | _Unknown):
            raise UnsupportedFilter("comparing a property with another property is not supported")
        if isinstance(target, _Unknown) or target.kind is Kind.ABSENT:
            if kind == "known":
                return false() if value else true()
            return cast(null(), Boolean)
        if isinstance(value, _Boolean) or (isinstance(value, list) and any(isinstance(v, _Boolean) for v in value)):
            raise TypeMismatch(f"{target.name!r} is not a boolean; TRUE and FALSE cannot be compared with it")
        if kind == "known":
            column = self.resource.column(target)
            return column.is_not(None) if value else column.is_(None)
        if target.kind is Kind.OBJECTS:
            raise UnsupportedFilter(f"{target.name!r} is a list of objects; only IS KNOWN and IS UNKNOWN filter it")
        if kind == "op":
            return self._value_comparison(target, rhs[1], value)
        if kind == "fuzzy":
            return self._fuzzy(target, rhs[1], value)
        if kind == "length":
            if target.kind not in (Kind.LIST, Kind.MATRIX, Kind.SPECIES):
                raise TypeMismatch(f"LENGTH applies to list properties; {target.name!r} is not a list")
            return _OPERATORS[rhs[1]](self.resource.length_column(target), _number(value))
        return self._set(target, kind, rhs[1], value)

    def _value_comparison(self, field: Field, operator: str, value: Any) -> ColumnElement[bool]:
        column = self.resource.column(field)
        if field.kind is Kind.STRING:
            if not isinstance(value, str):
                raise TypeMismatch(f"{field.name!r} is a string; compare it with a quoted string")
            if field.name == "id" and operator in ("=", "!=") and self.resource.type == "structures":
                return self._id_equals(value) if operator == "=" else not_(self._id_equals(value))
            return _OPERATORS[operator](column, value)
        if field.kind is Kind.NUMBER:
            if not isinstance(value, int | float):
                raise TypeMismatch(f"{field.name!r} is a number; compare it with a number")
            return _OPERATORS[operator](column, _number(value))
        if field.kind is Kind.TIMESTAMP:
            return _OPERATORS[operator](column, _timestamp(field, value))
        raise TypeMismatch(f"{field.name!r} is a list; use HAS, HAS ALL, HAS ANY, HAS ONLY or LENGTH")

    def _id_equals(self, value: str) -> ColumnElement[bool]:
        """``id = "source/key"`` as an indexable (source, key) lookup."""
        source, _, key = value.partition("/")
        columns = self.resource.selectable.c
        return and_(columns.source_name == source, columns.entry_key == key)

    def _fuzzy(self, field: Field, operator: str, value: Any) -> ColumnElement[bool]:
        if field.kind is not Kind.STRING:
            raise TypeMismatch(f"{operator} applies to string properties; {field.name!r} is not a string")
        if not isinstance(value, str):
            raise TypeMismatch(f"{operator} needs a quoted string")
        column = self.resource.column(field)
        if operator == "CONTAINS":
            return func.strpos(column, value) > 0
        if operator == "STARTS":
            return func.starts_with(column, value)
        return func.right(column, len(value)) == value

    def _set(self, field: Field, kind: str, operator: str, value: Any) -> ColumnElement[bool]:
        if field.kind in (Kind.MATRIX, Kind.SPECIES):
            raise UnsupportedFilter(f"HAS queries on {field.name!r} (a list of lists or of objects) are not supported")
        if field.kind is not Kind.LIST:
            raise TypeMismatch(f"HAS applies to list properties; {field.name!r} is not a list")
        item = LIST_ITEMS[field.name]
        column = self.resource.column(field)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, Field | _Unknown):
                raise UnsupportedFilter("comparing a property with another property is not supported")
            if (item is str) != isinstance(v, str):
                raise TypeMismatch(f"{field.name!r} holds {'strings' if item is str else 'numbers'}; {v!r} cannot be one")
        if kind == "has" and operator != "=":
            return _OPERATORS[_REVERSED[operator]](literal(values[0], _SQL_ITEM_TYPES[item] if item is not int else Float), any_(column))
        usable = [_coerce(v, item) for v in values]
        matchable = [v for v in usable if v is not None]
        if kind in ("has", "has_all"):
            if len(matchable) < len(usable):
                return false()
            return column.bool_op("@>")(_array(matchable, item))
        if kind == "has_any":
            return column.bool_op("&&")(_array(matchable, item))
        return column.bool_op("<@")(_array(matchable, item))


def _number(value: int | float) -> ColumnElement:
    """A numeric bound parameter; integers beyond int4 become floats so PostgreSQL never overflows."""
    return literal(value, Float if isinstance(value, float) or abs(value) >= _INT4 else Integer)


def _coerce(value: Any, item: type) -> Any:
    """``value`` as a list item of type ``item``, or None if no item can equal it."""
    if item is int:
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            return None
        return int(value) if abs(value) < _INT4 else None
    if item is float:
        return float(value)
    return value


def _array(values: list[Any], item: type) -> ColumnElement:
    """A bound array parameter with an explicit SQL type (psycopg would guess int8/numeric)."""
    sql_type = _SQL_ITEM_TYPES[item]
    return cast(literal(values, ARRAY(sql_type)), ARRAY(sql_type))


def _timestamp(field: Field, value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeMismatch(f"{field.name!r} is a timestamp; compare it with a quoted RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FilterError(f"{value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise FilterError(f"{value!r} has no time zone; add Z or an offset")
    return parsed
