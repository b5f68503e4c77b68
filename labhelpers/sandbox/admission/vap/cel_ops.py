"""CEL's operators and field access with cel-go's run-time semantics, as celpy functions.

Heterogeneous numeric equality and ordering (``1 == 1.0``, ``1 < 1.5``), Go's truncating integer division,
overflow checks, and the attribute-resolution errors users see in denials (``no such key: spec``,
``index out of bounds: 3``). Every function returns a CEL value or a :class:`CELEvalError` value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from celpy import celtypes as ct
from celpy.evaluation import CELEvalError

from .cel_values import (
    INT64_MIN,
    NO_OVERLOAD,
    NONE,
    AuthorizerVal,
    LazyFields,
    Optional,
    Quantity,
    ResourceCheck,
    err,
    first_error,
    go_type_name,
    go_value,
    int64,
    is_number,
    uint64,
)

Fn = Callable[..., Any]


def strict(fn: Fn) -> Fn:
    """Errors in arguments propagate (left to right), as in cel-go's strict functions."""

    def wrapper(*args: Any) -> Any:
        e = first_error(*args)
        if e is not None:
            return e
        try:
            return fn(*args)
        except (TypeError, AttributeError):
            return err(NO_OVERLOAD)

    wrapper.__name__ = fn.__name__
    return wrapper


def is_kind(v: Any, *types: type) -> bool:
    """isinstance that keeps CEL bools out of the integer kinds (celpy's BoolType subclasses int)."""
    return isinstance(v, types) and not (isinstance(v, ct.BoolType) and ct.BoolType not in types)


# --- equality and ordering ---

def equal(a: Any, b: Any) -> bool:
    """CEL heterogeneous equality: numbers compare by value, other kinds must match."""
    if isinstance(a, Optional) or isinstance(b, Optional):
        return (isinstance(a, Optional) and isinstance(b, Optional) and a.present == b.present
                and (not a.present or equal(a.value, b.value)))
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, ct.BoolType) or isinstance(b, ct.BoolType):
        return isinstance(a, ct.BoolType) and isinstance(b, ct.BoolType) and bool(a) == bool(b)
    if is_number(a) and is_number(b):
        if isinstance(a, ct.DoubleType) or isinstance(b, ct.DoubleType):
            return float(a) == float(b)
        return int(a) == int(b)
    for kind in (ct.StringType, ct.BytesType, ct.TimestampType, ct.DurationType):
        if isinstance(a, kind) or isinstance(b, kind):
            return isinstance(a, kind) and isinstance(b, kind) and a == b
    if isinstance(a, ct.ListType) or isinstance(b, ct.ListType):
        return (isinstance(a, ct.ListType) and isinstance(b, ct.ListType) and len(a) == len(b)
                and all(equal(x, y) for x, y in zip(a, b, strict=True)))
    if isinstance(a, ct.MapType) or isinstance(b, ct.MapType):
        if not (isinstance(a, ct.MapType) and isinstance(b, ct.MapType)) or len(a) != len(b):
            return False
        for k, v in a.items():
            found, other = map_find(b, k)
            if not found or not equal(v, other):
                return False
        return True
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return a.value == b.value
    if isinstance(a, type) or isinstance(b, type):
        return a is b
    return type(a) is type(b) and a == b


def map_find(m: ct.MapType, key: Any) -> tuple[bool, Any]:
    if isinstance(key, ct.StringType | ct.BoolType):
        for k, v in m.items():
            if type(k) is type(key) and k == key:
                return True, v
        return False, None
    if is_number(key):
        for k, v in m.items():
            if is_number(k) and equal(k, key):
                return True, v
    return False, None


def compare(a: Any, b: Any) -> int | CELEvalError:
    if is_number(a) and is_number(b) and not isinstance(a, ct.BoolType) and not isinstance(b, ct.BoolType):
        x: Any = float(a) if isinstance(a, ct.DoubleType) or isinstance(b, ct.DoubleType) else int(a)
        y: Any = float(b) if isinstance(x, float) else int(b)
        return (x > y) - (x < y)
    for kind in (ct.BoolType, ct.StringType, ct.BytesType, ct.TimestampType, ct.DurationType):
        if isinstance(a, kind) and isinstance(b, kind):
            return (a > b) - (a < b)
    return err(NO_OVERLOAD)


def _ordering(test: Callable[[int], bool]) -> Fn:
    @strict
    def op(a: Any, b: Any) -> Any:
        c = compare(a, b)
        return c if isinstance(c, CELEvalError) else ct.BoolType(test(c))

    return op


@strict
def op_eq(a: Any, b: Any) -> ct.BoolType:
    return ct.BoolType(equal(a, b))


@strict
def op_ne(a: Any, b: Any) -> ct.BoolType:
    return ct.BoolType(not equal(a, b))


def op_and(a: Any, b: Any) -> Any:
    if (isinstance(a, ct.BoolType) and not a) or (isinstance(b, ct.BoolType) and not b):
        return ct.BoolType(False)
    if isinstance(a, ct.BoolType) and isinstance(b, ct.BoolType):
        return ct.BoolType(True)
    return _logical_error(a, b)


def op_or(a: Any, b: Any) -> Any:
    if (isinstance(a, ct.BoolType) and a) or (isinstance(b, ct.BoolType) and b):
        return ct.BoolType(True)
    if isinstance(a, ct.BoolType) and isinstance(b, ct.BoolType):
        return ct.BoolType(False)
    return _logical_error(a, b)


def _logical_error(a: Any, b: Any) -> CELEvalError:
    if isinstance(a, CELEvalError):
        return a
    if not isinstance(a, ct.BoolType):
        return err(NO_OVERLOAD)
    return b if isinstance(b, CELEvalError) else err(NO_OVERLOAD)


def op_not(a: Any) -> Any:
    if isinstance(a, CELEvalError):
        return a
    return ct.BoolType(not a) if isinstance(a, ct.BoolType) else err(NO_OVERLOAD)


def op_cond(cond: Any, left: Any, right: Any) -> Any:
    if isinstance(cond, CELEvalError):
        return cond
    if not isinstance(cond, ct.BoolType):
        return err(NO_OVERLOAD)
    return left if cond else right


# --- arithmetic ---

def _go_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@strict
def op_add(a: Any, b: Any) -> Any:
    if is_kind(a, ct.IntType) and is_kind(b, ct.IntType):
        return int64(int(a) + int(b))
    if is_kind(a, ct.UintType) and is_kind(b, ct.UintType):
        return uint64(int(a) + int(b))
    if is_kind(a, ct.DoubleType) and is_kind(b, ct.DoubleType):
        return ct.DoubleType(float(a) + float(b))
    if is_kind(a, ct.StringType) and is_kind(b, ct.StringType):
        return ct.StringType(str(a) + str(b))
    if is_kind(a, ct.BytesType) and is_kind(b, ct.BytesType):
        return ct.BytesType(bytes(a) + bytes(b))
    if isinstance(a, ct.ListType) and isinstance(b, ct.ListType):
        return ct.ListType([*a, *b])
    if isinstance(a, ct.TimestampType | ct.DurationType) and isinstance(b, ct.DurationType):
        return a + b
    if isinstance(a, ct.DurationType) and isinstance(b, ct.TimestampType):
        return b + a
    return err(NO_OVERLOAD)


@strict
def op_sub(a: Any, b: Any) -> Any:
    if is_kind(a, ct.IntType) and is_kind(b, ct.IntType):
        return int64(int(a) - int(b))
    if is_kind(a, ct.UintType) and is_kind(b, ct.UintType):
        return uint64(int(a) - int(b))
    if is_kind(a, ct.DoubleType) and is_kind(b, ct.DoubleType):
        return ct.DoubleType(float(a) - float(b))
    if isinstance(a, ct.TimestampType) and isinstance(b, ct.TimestampType | ct.DurationType):
        return a - b
    if isinstance(a, ct.DurationType) and isinstance(b, ct.DurationType):
        return ct.DurationType(a - b)
    return err(NO_OVERLOAD)


@strict
def op_mul(a: Any, b: Any) -> Any:
    if is_kind(a, ct.IntType) and is_kind(b, ct.IntType):
        return int64(int(a) * int(b))
    if is_kind(a, ct.UintType) and is_kind(b, ct.UintType):
        return uint64(int(a) * int(b))
    if is_kind(a, ct.DoubleType) and is_kind(b, ct.DoubleType):
        return ct.DoubleType(float(a) * float(b))
    return err(NO_OVERLOAD)


@strict
def op_div(a: Any, b: Any) -> Any:
    if (is_kind(a, ct.IntType) and is_kind(b, ct.IntType)) or (is_kind(a, ct.UintType) and is_kind(b, ct.UintType)):
        if int(b) == 0:
            return err("division by zero")
        q = _go_div(int(a), int(b))
        return int64(q) if is_kind(a, ct.IntType) else uint64(q)
    if is_kind(a, ct.DoubleType) and is_kind(b, ct.DoubleType):
        x, y = float(a), float(b)
        if y == 0:
            return ct.DoubleType(math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x) *
                                 math.copysign(1, y))
        return ct.DoubleType(x / y)
    return err(NO_OVERLOAD)


@strict
def op_mod(a: Any, b: Any) -> Any:
    if (is_kind(a, ct.IntType) and is_kind(b, ct.IntType)) or (is_kind(a, ct.UintType) and is_kind(b, ct.UintType)):
        if int(b) == 0:
            return err("modulus by zero")
        if int(a) == INT64_MIN and int(b) == -1:
            return err("integer overflow")
        r = int(a) - int(b) * _go_div(int(a), int(b))
        return ct.IntType(r) if is_kind(a, ct.IntType) else ct.UintType(r)
    return err(NO_OVERLOAD)


@strict
def op_neg(a: Any) -> Any:
    if is_kind(a, ct.IntType):
        return int64(-int(a))
    if is_kind(a, ct.DoubleType):
        return ct.DoubleType(-float(a))
    return err(NO_OVERLOAD)


# --- containers ---

@strict
def op_in(item: Any, container: Any) -> Any:
    if isinstance(container, ct.ListType):
        return ct.BoolType(any(equal(item, x) for x in container))
    if isinstance(container, ct.MapType):
        return ct.BoolType(map_find(container, item)[0])
    return err(NO_OVERLOAD)


def _list_index(idx: Any) -> int | CELEvalError:
    if is_kind(idx, ct.IntType | ct.UintType):
        return int(idx)
    if is_kind(idx, ct.DoubleType) and float(idx).is_integer():
        return int(idx)
    return err(f"unsupported index type '{go_type_name(idx)}' in list")


def index(container: Any, idx: Any, optional: bool = False) -> Any:
    """``container[idx]`` with cel-go's attribute-resolution errors; ``optional`` gives ``[?idx]``."""
    e = first_error(container, idx)
    if e is not None:
        return e
    if isinstance(container, Optional):
        if not container.present:
            return NONE
        return index(container.value, idx, optional=True)
    if isinstance(container, ct.ListType):
        i = _list_index(idx)
        if isinstance(i, CELEvalError):
            return i
        if 0 <= i < len(container):
            return Optional(container[i], True) if optional else container[i]
        return NONE if optional else err(f"index out of bounds: {go_value(idx)}")
    if isinstance(container, ct.MapType):
        found, value = map_find(container, idx)
        if found:
            return Optional(value, True) if optional else value
        return NONE if optional else err(f"no such key: {go_value(idx)}")
    return NONE if optional else err(f"no such key: {go_value(idx)}")


def select(operand: Any, name: str, optional: bool = False) -> Any:
    """``operand.name`` (``.?name`` when ``optional``); optional-ness sticks to the rest of the path."""
    if isinstance(operand, CELEvalError):
        return operand
    if isinstance(operand, Optional):
        return select(operand.value, name, optional=True) if operand.present else NONE
    if isinstance(operand, LazyFields) and name in operand:
        value = operand.field(name)
        return Optional(value, True) if optional and not isinstance(value, CELEvalError) else value
    if isinstance(operand, AuthorizerVal) and name == "requestResource":
        attrs = tuple(sorted(operand.request.items()))
        value: Any = ResourceCheck(operand, attrs)
        return Optional(value, True) if optional else value
    return index(operand, ct.StringType(name), optional)


def has_field(operand: Any, name: str) -> Any:
    if isinstance(operand, CELEvalError):
        return operand
    if isinstance(operand, ct.MapType):
        return ct.BoolType(map_find(operand, ct.StringType(name))[0])
    if isinstance(operand, LazyFields):
        return ct.BoolType(name in operand)
    return ct.BoolType(False)


def iteration_error(v: Any) -> CELEvalError:
    return err(f"got '{go_type_name(v)}', expected iterable type")


OPERATORS: dict[str, Fn] = {
    "_==_": op_eq, "_!=_": op_ne,
    "_<_": _ordering(lambda c: c < 0), "_<=_": _ordering(lambda c: c <= 0),
    "_>_": _ordering(lambda c: c > 0), "_>=_": _ordering(lambda c: c >= 0),
    "_&&_": op_and, "_||_": op_or, "!_": op_not, "_?_:_": op_cond,
    "_+_": op_add, "_-_": op_sub, "_*_": op_mul, "_/_": op_div, "_%_": op_mod, "-_": op_neg,
    "_in_": op_in, "_[_]": index,
}
