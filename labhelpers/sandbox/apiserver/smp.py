"""Strategic merge patch, applied server-side the way kube-apiserver applies it.

Follows apimachinery's ``strategicpatch.StrategicMergeMapPatch`` (server options: parallel lists merged, unmatched
nulls ignored): map recursion, ``null`` deletes, ``$patch: replace|delete`` (``merge`` is rejected, as upstream),
``$setElementOrder/<f>``, ``$deleteFromPrimitiveList/<f>``, ``$retainKeys``, merge-by-key lists including
``$patch: delete`` items, primitive lists with strategy ``merge``, and upstream's list ordering rules (items named
by the patch come in patch order, interleaved with server-only items by their live order; new items first).

Per field, the patch strategy and merge key come from ``x-kubernetes-patch-strategy`` and
``x-kubernetes-patch-merge-key`` in :mod:`.schemas`, which mirror the Go struct tags kube-apiserver reads.
``x-kubernetes-list-type``/``list-map-keys`` are deliberately *not* used: they describe server-side apply, and a
list with only ``list-type: map`` (no patch strategy) is replaced wholesale by a real apiserver's SMP too.
Without a definition (custom resources) the patch is applied as an RFC 7386 JSON merge patch.

Errors raise :class:`SMPError` (a ValueError) carrying apimachinery's message and the HTTP status the apiserver
answers with (``interpretStrategicMergePatchError``): 400 for malformed directives, 422 for lists of lists and
retainKeys mismatches, 500 (Status without a reason: ``Error from server: <msg>``) for everything else.
"""

from __future__ import annotations

import copy
from typing import Any

from ..gofmt import format_value, go_type
from . import schemas

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList"
SET_ORDER_PREFIX = "$setElementOrder"


class SMPError(ValueError):
    """A strategic-merge-patch failure: ``str(err)`` is apimachinery's message, ``status`` the HTTP code."""

    def __init__(self, message: str, status: int = 500):
        super().__init__(message)
        self.status = status


# Sentinel errors, with the codes kube-apiserver maps them to.
def _bad_primitive_list() -> SMPError:
    return SMPError("invalid patch format of primitive list", 400)


def _bad_retain_keys() -> SMPError:
    return SMPError("invalid patch format of retainKeys", 400)


def _bad_set_order() -> SMPError:
    return SMPError("invalid patch format of setElementOrder list", 400)


def _no_list_of_lists() -> SMPError:
    return SMPError("lists of lists are not supported", 422)


# --- Go formatting, for messages that embed values ----------------------------------------------------------


def go_v(v: Any) -> str:
    """Go's ``%v`` for JSON-ish values (maps print with sorted keys, as fmt does)."""
    return format_value(v)


def _go_s(v: Any) -> str:
    """Go's ``%s``: strings verbatim, anything else as ``%!s(type=value)``."""
    if isinstance(v, str):
        return v
    if v is None:
        return "%!s(<nil>)"
    return f"%!s({go_type(v)}={go_v(v)})"


def _bad_arg_type(expected: str, actual: Any) -> SMPError:
    return SMPError(f"expected a {expected}, but received a {go_type(actual)}")


def _no_merge_key(m: Any, key: str) -> SMPError:
    return SMPError(f"map: {go_v(m)} does not contain declared merge key: {key}")


def _bad_patch_type(directive: Any, m: Any) -> SMPError:
    return SMPError(f"unknown patch type: {_go_s(directive)} in map: {go_v(m)}")


def _kind(v: Any) -> str:
    """The reflect.Kind class SMP branches on."""
    if isinstance(v, dict):
        return "map"
    if isinstance(v, list):
        return "slice"
    return go_type(v)


# --- patch metadata from the schemas ------------------------------------------------------------------------


class _Meta:
    """A position in the type tree: answers "how is field X of this type patched?"."""

    __slots__ = ("node",)

    def __init__(self, node: dict | None):
        self.node = schemas.resolve(node) if node else None

    @classmethod
    def of(cls, definition: str) -> _Meta:
        return cls({"$ref": schemas.REF_PREFIX + definition})

    def _field(self, key: str) -> dict | None:
        if not self.node:
            return None
        props = self.node.get("properties") or {}
        if key in props:
            return props[key]
        extra = self.node.get("additionalProperties")
        return extra if isinstance(extra, dict) else None

    @staticmethod
    def _patch_meta(prop: dict | None) -> tuple[list[str], str]:
        if not prop:
            return [], ""
        strategy = prop.get("x-kubernetes-patch-strategy")
        return (strategy.split(",") if strategy else []), prop.get("x-kubernetes-patch-merge-key", "")

    def for_struct(self, key: str) -> tuple[_Meta, list[str], str]:
        prop = self._field(key)
        return _Meta(prop), *self._patch_meta(prop)

    def for_slice(self, key: str) -> tuple[_Meta, list[str], str]:
        prop = self._field(key)
        items = schemas.resolve(prop).get("items") if prop else None
        return _Meta(items if isinstance(items, dict) else None), *self._patch_meta(prop)

    def name(self) -> str:
        """reflect.Kind of the Go type, as used in "cannot merge lists without merge key for %s"."""
        node = self.node or {}
        t = node.get("type")
        if t == "object":
            return "map" if "additionalProperties" in node and "properties" not in node else "struct"
        if t == "integer":
            return node.get("format", "int") if node.get("format") in ("int32", "int64") else "int"
        return {"string": "string", "boolean": "bool", "number": "float64", "array": "slice"}.get(t, "struct")


def _retain_keys_strategy(strategies: list[str]) -> tuple[bool, str]:
    if not strategies:
        return False, ""
    if len(strategies) == 1:
        return (True, "") if strategies[0] == "retainKeys" else (False, strategies[0])
    if len(strategies) == 2:
        if strategies[0] == "retainKeys":
            return True, strategies[1]
        if strategies[1] == "retainKeys":
            return True, strategies[0]
    raise SMPError(f"unexpected patch strategy: {go_v(strategies)}")


# --- helpers ------------------------------------------------------------------------------------------------


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        if prefix == DELETE_PRIMITIVE_PREFIX:
            raise _bad_primitive_list()
        if prefix == SET_ORDER_PREFIX:
            raise _bad_set_order()
        raise SMPError(f'fail to find unknown prefix "{prefix}" in {key}')
    return rest


def _remove_directives(obj: Any) -> tuple[Any, bool]:
    """Drop maps carrying ``$patch`` from a value that is inserted wholesale; (value, keep)."""
    if isinstance(obj, dict):
        if DIRECTIVE in obj:
            return None, False
        for k in list(obj):
            obj[k], keep = _remove_directives(obj[k])
            if not keep:
                del obj[k]
        return obj, True
    if isinstance(obj, list):
        kept = []
        for v in obj:
            nv, keep = _remove_directives(v)
            if keep:
                kept.append(nv)
        return kept, True
    return obj, True


def _discard_nulls(v: Any) -> None:
    if isinstance(v, dict):
        for k in list(v):
            if v[k] is None:
                del v[k]
            else:
                _discard_nulls(v[k])
    elif isinstance(v, list):
        for x in v:
            _discard_nulls(x)


def _slice_element_type(*lists: list) -> str:
    prev = None
    for s in lists:
        for v in s:
            cur = _kind(v)
            if prev is None:
                prev = cur
                if cur == "slice":
                    raise _no_list_of_lists()
            elif prev != cur:
                raise SMPError(f"list element types are not identical: {go_v(list(lists))}")
    if prev is None:
        raise SMPError("no elements in any of the given slices")
    return prev


def _same(a: Any, b: Any) -> bool:
    """Go interface equality for scalars: equal dynamic type and value."""
    return go_type(a) == go_type(b) and a == b


def _find_by_key(items: list, key: str, value: Any) -> int:
    for i, v in enumerate(items):
        if not isinstance(v, dict):
            raise SMPError(f"value for key {i} is not a map")
        if key in v and _same(v[key], value):
            return i
    return -1


def _index(items: list, value: Any, merge_key: str, kind: str) -> int:
    def key_of(item: Any) -> Any:
        if kind == "map":
            return item.get(merge_key) if isinstance(item, dict) else None
        return item

    wanted = key_of(value)
    for i, v in enumerate(items):
        if _same(key_of(v), wanted):
            return i
    return -1


def _validate_merge_keys(merge_key: str, *lists: list) -> None:
    for items in lists:
        for item in items:
            if not isinstance(item, dict):
                raise _bad_arg_type("map[string]interface {}", item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)


def _split_deletes(items: list) -> tuple[list, list]:
    keep, delete = [], []
    for v in items:
        if not isinstance(v, dict):
            raise _bad_arg_type("map[string]interface {}", v)
        (delete if v.get(DIRECTIVE) == "delete" else keep).append(v)
    return keep, delete


def _normalize_slice_order(to_sort: list, order: list, merge_key: str, kind: str) -> list:
    to_delete: list = []
    if kind == "map":
        _validate_merge_keys(merge_key, to_sort, order)
        to_sort, to_delete = _split_deletes(to_sort)
    items = list(to_sort)

    def less(a: Any, b: Any) -> bool:
        ia = _index(order, a, merge_key, kind)
        if ia >= 0:
            ib = _index(order, b, merge_key, kind)
            if ib >= 0:
                return ia < ib
        return True

    # sort.SliceStable's insertion sort, with upstream's (not strictly consistent) comparison.
    for i in range(1, len(items)):
        j = i
        while j > 0 and less(items[j], items[j - 1]):
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1
    return items + to_delete


def _merge_sorted(left: list, right: list, server_order: list, merge_key: str, kind: str) -> list:
    out: list = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], merge_key, kind)
            ri = _index(server_order, right[j], merge_key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _normalize_element_order(patch_items: list, server_only: list, patch_order: list, server_order: list,
                             merge_key: str, kind: str) -> list:
    patch_items = _normalize_slice_order(patch_items, patch_order, merge_key, kind)
    server_only = _normalize_slice_order(server_only, server_order, merge_key, kind)
    return _merge_sorted(server_only, patch_items, server_order, merge_key, kind)


def _partition(merged: list, by: list, merge_key: str) -> tuple[list, list]:
    inside, outside = [], []
    if not merge_key:
        for v in merged:
            (inside if any(_same(v, b) for b in by) else outside).append(v)
        return inside, outside
    for v in merged:
        if not isinstance(v, dict):
            raise _bad_arg_type("map[string]interface {}", v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        (inside if _find_by_key(by, merge_key, v[merge_key]) >= 0 else outside).append(v)
    return inside, outside


def _dedupe_scalars(items: list) -> list:
    out: list = []
    for v in items:
        if not any(_same(v, o) for o in out):
            out.append(v)
    return out


# --- the merge ----------------------------------------------------------------------------------------------


def _merge_map(original: dict | None, patch: dict, meta: _Meta) -> dict:
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == "replace":
            del patch[DIRECTIVE]
            return patch
        if directive == "delete":
            return {}
        raise _bad_patch_type(directive, patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_set_element_order(original, patch, meta)

    for key, value in list(patch.items()):
        if key not in patch:
            continue
        is_delete_list = False
        if key.startswith(DELETE_PRIMITIVE_PREFIX):
            key = _extract_key(key, DELETE_PRIMITIVE_PREFIX)
            is_delete_list = True
        if value is None:
            original.pop(key, None)
            continue
        if key not in original or _kind(original[key]) != _kind(value):
            if not is_delete_list:
                _discard_nulls(value)
                new, keep = _remove_directives(value)
                if keep:
                    original[key] = new
                else:
                    original.pop(key, None)
            continue
        current = original[key]
        if isinstance(current, dict):
            sub, strategies, _ = meta.for_struct(key)
            _, strategy = _retain_keys_strategy(strategies)
            original[key] = value if strategy == "replace" else _merge_map(current, value, sub)
        elif isinstance(current, list):
            sub, strategies, merge_key = meta.for_slice(key)
            _, strategy = _retain_keys_strategy(strategies)
            original[key] = _merge_slice_handler(current, value, sub, strategy, merge_key, is_delete_list)
        else:
            original[key] = value
    return original


def _apply_retain_keys(original: dict, patch: dict) -> None:
    if RETAIN_KEYS not in patch:
        return
    keys = patch.pop(RETAIN_KEYS)
    if not isinstance(keys, list):
        raise _bad_retain_keys()
    for k, v in patch.items():
        if v is None or k.startswith((DELETE_PRIMITIVE_PREFIX, SET_ORDER_PREFIX)):
            continue
        if k not in keys:
            raise _bad_retain_keys()
    for k in list(original):
        if k not in keys:
            del original[k]


def _validate_set_order(patch_list: list, order: list, merge_key: str) -> None:
    if not order or not patch_list:
        return
    items = _split_deletes(patch_list)[0] if merge_key else patch_list
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        if isinstance(items[pi], dict) and DIRECTIVE in items[pi]:
            pi += 1
            continue
        if merge_key:
            left, right = items[pi], order[oi]
            if not isinstance(left, dict):
                raise _bad_arg_type("map[string]interface {}", left)
            if not isinstance(right, dict):
                raise _bad_arg_type("map[string]interface {}", right)
            if merge_key not in left:
                raise _no_merge_key(left, merge_key)
            if merge_key not in right:
                raise _no_merge_key(right, merge_key)
            equal = _same(left[merge_key], right[merge_key])
        else:
            equal = _same(items[pi], order[oi])
        if equal:
            pi += 1
        oi += 1
    if pi < len(items) and oi >= len(order):
        raise SMPError(f"the order in patch list:\n{go_v(patch_list)}\n doesn't match {SET_ORDER_PREFIX} list:\n"
                       f"{go_v(order)}")


def _merge_set_element_order(original: dict, patch: dict, meta: _Meta) -> None:
    for key in [k for k in patch if k.startswith(SET_ORDER_PREFIX)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _bad_arg_type("[]interface {}", order)
        field = _extract_key(key, SET_ORDER_PREFIX)
        found_original, found_patch = field in original, field in patch
        original_list: list = []
        patch_list: list = []
        if found_original:
            if not isinstance(original[field], list):
                raise _bad_arg_type("[]interface {}", original[field])
            original_list = original[field]
        if found_patch:
            if not isinstance(patch[field], list):
                raise _bad_arg_type("[]interface {}", patch[field])
            patch_list = patch[field]
        sub, strategies, merge_key = meta.for_slice(field)
        _, strategy = _retain_keys_strategy(strategies)
        _validate_set_order(patch_list, order, merge_key)
        if found_original and not found_patch:
            merged = original_list
        elif found_patch and not found_original:
            merged = _remove_directives(patch_list)[0]
        elif found_original and found_patch:
            merged = _merge_slice_handler(list(original_list), patch_list, sub, strategy, merge_key, False)
        else:
            continue
        patch_items, server_only = _partition(merged, order, merge_key)
        kind = _slice_element_type(original_list, patch_list)
        original[field] = _normalize_element_order(patch_items, server_only, order, original_list, merge_key, kind)
        patch.pop(field, None)


def _merge_slice_handler(original: list, patch: list, meta: _Meta, strategy: str, merge_key: str,
                         is_delete_list: bool) -> list:
    if strategy == "merge" or is_delete_list:
        return _merge_slice(original, patch, meta, merge_key, is_delete_list)
    return patch


def _merge_slice(original: list, patch: list, meta: _Meta, merge_key: str, is_delete_list: bool) -> list:
    if not original and not patch:
        return original
    kind = _slice_element_type(original, patch)
    if kind != "map":
        if is_delete_list:
            return [v for v in original if not any(_same(v, d) for d in patch)]
        merged = _dedupe_scalars(original + patch)
    else:
        if not merge_key:
            raise SMPError(f"cannot merge lists without merge key for {meta.name()}")
        original, patch = _merge_special_elements(list(original), patch, merge_key)
        merged = _merge_plain_elements(list(original), patch, merge_key, meta)
    patch_items, server_only = _partition(merged, patch, merge_key)
    return _normalize_element_order(patch_items, server_only, patch, original, merge_key, kind)


def _merge_special_elements(original: list, patch: list, merge_key: str) -> tuple[list, list]:
    plain: list = []
    replace = False
    for v in patch:
        if DIRECTIVE not in v:
            plain.append(v)
            continue
        directive = v[DIRECTIVE]
        if directive == "delete":
            if merge_key not in v:
                raise _no_merge_key(v, merge_key)
            while (i := _find_by_key(original, merge_key, v[merge_key])) >= 0:
                del original[i]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise SMPError("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, v)
    if replace:
        return plain, []
    return original, plain


def _merge_plain_elements(original: list, patch: list, merge_key: str, meta: _Meta) -> list:
    for v in patch:
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        i = _find_by_key(original, merge_key, v[merge_key])
        if i >= 0:
            original[i] = _merge_map(original[i], v, meta)
        else:
            original.append(v)
    return original


# --- public API ---------------------------------------------------------------------------------------------


def json_merge_patch(original: Any, patch: Any) -> Any:
    """RFC 7386 merge patch (what apimachinery does for types without patch metadata)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def apply_strategic_merge_patch(original: dict, patch: Any, definition: str | None) -> dict:
    """Apply ``patch`` to ``original`` (neither is modified) using the patch metadata of ``definition``.

    ``definition`` is a schema name such as ``io.k8s.api.core.v1.Pod``; ``None`` means no metadata is known and
    the patch is applied as a JSON merge patch.
    """
    if patch is None:
        return copy.deepcopy(original)
    if not isinstance(patch, dict):
        raise SMPError(f"json: cannot unmarshal {_json_kind(patch)} into Go value of type map[string]interface {{}}",
                       400)
    if definition is None or not schemas.has(definition):
        return json_merge_patch(copy.deepcopy(original), copy.deepcopy(patch))
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), _Meta.of(definition))
