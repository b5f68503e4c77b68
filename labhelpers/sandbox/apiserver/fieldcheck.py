"""Strict field validation with kube-apiserver's decoder semantics and wording.

kube-apiserver decodes request bodies into Go structs with sigs.k8s.io/json. Two kinds of findings come out:

* **strict errors** (``fieldValidation=Strict`` rejects, ``Warn`` turns each into a ``Warning`` header):
  ``unknown field "spec.containers[0].imagePullPolicyy"`` and ``duplicate field "metadata.name"``. Paths join
  field names with ``.`` and list positions as ``[i]``; errors keep document order, are de-duplicated and capped
  at 100. The apiserver reports them as ``strict decoding error: <e1>, <e2>``.
* **decode errors**, which fail the request whatever ``fieldValidation`` says and take precedence over strict
  errors: Go's ``json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type
  []v1.Container`` (struct name, then the field path *without* list indices), base64 failures in ``[]byte``
  fields (``illegal base64 data at input byte 4``), and errors from types that parse themselves (Quantity,
  IntOrString, Time). Go keeps the first ordinary decode error but lets a self-parsing type's error override it.

Custom (CRD) kinds decode into unstructured maps: no type errors, unknown fields come from schema pruning and
the same message format.

PATCH is different: kube-apiserver decodes the patch into a plain map (only duplicate keys are strict errors,
see :func:`patch_duplicate_errors`), applies it, and converts the result to the Go type, which reports unknown
fields sorted, without map keys in the path and unquoted (:func:`patched_object_errors`); Strict then answers
422 ``"" is invalid: patch: Invalid value: "<patch as Go %v>": strict decoding error: ...``.

Known gap: named Go string types (``v1.PullPolicy``...) are reported as ``string`` because the OpenAPI
definitions do not name them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from . import schemas
from .errors import go_quote

MAX_STRICT_ERRORS = 100

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_TIME_TYPES = {_META + "Time", _META + "MicroTime"}
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_RAW_TYPES = {"io.k8s.apimachinery.pkg.runtime.RawExtension", _META + "FieldsV1",
              "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON"}

_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_QUANTITY_FORMAT_ERR = ("quantities must match the regular expression "
                        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
_QUANTITY_NUMBER_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_QUANTITY_SUFFIXES = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"}
_B64 = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


class _Pairs(list):
    """A JSON object as its (key, value) pairs, so duplicate keys survive parsing."""


class _Num(float):
    """A non-integer JSON number that remembers its literal (Go quotes it: ``number 1.5``)."""

    text: str

    def __new__(cls, text: str) -> _Num:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


def parse(raw: bytes | str) -> Any:
    """Parse a JSON body keeping duplicate keys and number literals for :func:`check`."""
    return json.loads(raw, object_pairs_hook=_Pairs, parse_float=_Num)


def _items(obj: Any) -> list[tuple[str, Any]]:
    return list(obj) if isinstance(obj, _Pairs) else list(obj.items())


def _is_object(v: Any) -> bool:
    return isinstance(v, (dict, _Pairs))


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list) and not isinstance(v, _Pairs):
        return "array"
    return "object"


def _literal(v: float | int) -> str:
    return v.text if isinstance(v, _Num) else json.dumps(v)


def go_base64_error(s: str) -> str | None:
    """Go's base64.StdEncoding.DecodeString error for ``s`` (``illegal base64 data at input byte N``)."""
    src = s.encode()
    n, si = len(src), 0

    def corrupt(at: int) -> str:
        return f"illegal base64 data at input byte {at}"

    while si < n:
        j = 0
        while j < 4:
            if si == n:
                if j == 0:
                    return None
                return corrupt(si - j)
            c = src[si]
            si += 1
            if c in _B64:
                j += 1
                continue
            if c in (0x0A, 0x0D):
                continue
            if c != 0x3D:  # '='
                return corrupt(si - 1)
            if j in (0, 1):
                return corrupt(si - 1)
            if j == 2:
                while si < n and src[si] in (0x0A, 0x0D):
                    si += 1
                if si == n:
                    return corrupt(n)
                if src[si] != 0x3D:
                    return corrupt(si - 1)
                si += 1
            while si < n and src[si] in (0x0A, 0x0D):
                si += 1
            if si < n:
                return corrupt(si)
            return None
    return None


def _quantity_error(v: Any) -> str | None:
    if v is None:
        return None
    text = v if isinstance(v, str) else (_literal(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                                         else None)
    if text is None:
        return _QUANTITY_FORMAT_ERR
    text = text.strip()
    m = _QUANTITY_RE.match(text)
    if not text or not m or not _QUANTITY_NUMBER_RE.fullmatch(m.group(1)):
        return _QUANTITY_FORMAT_ERR
    suffix = m.group(2)
    if suffix in _QUANTITY_SUFFIXES or re.fullmatch(r"[eE][-+]?[0-9]+", suffix):
        return None
    return "unable to parse quantity's suffix"


def _go_name(definition: str) -> tuple[str, str]:
    """(package-qualified Go type, bare struct name) for a definition: ``v1.PodSpec``, ``PodSpec``."""
    parts = definition.split(".")
    return (f"{parts[-2]}.{parts[-1]}" if len(parts) > 1 else parts[-1]), parts[-1]


@dataclass
class Report:
    """Everything the decoder would say about one body."""

    decode_error: str | None = None
    type_errors: list[str] = field(default_factory=list)
    strict: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    _override: str | None = None
    _seen: set[str] = field(default_factory=set)

    def _strict(self, kind: str, path: str) -> None:
        msg = f"{kind} field {go_quote(path)}"
        if msg in self._seen:
            return
        self._seen.add(msg)
        (self.unknown if kind == "unknown" else self.duplicates).append(path)
        if len(self.strict) < MAX_STRICT_ERRORS:
            self.strict.append(msg)

    def _saved(self, msg: str) -> None:
        self.type_errors.append(msg)
        if self.decode_error is None:
            self.decode_error = msg

    def _fatal(self, msg: str) -> None:
        self.type_errors.append(msg)
        if self._override is None:
            self._override = msg


@dataclass
class _Ctx:
    strict_path: str = ""
    struct: str = ""
    stack: tuple[str, ...] = ()

    def key(self, name: str) -> str:
        return f"{self.strict_path}.{name}" if self.strict_path else name

    def type_error(self, value_kind: str, go_type: str) -> str:
        if self.struct or self.stack:
            where = f"Go struct field {self.struct}.{'.'.join(self.stack)}"
        else:
            where = "Go value"
        return f"json: cannot unmarshal {value_kind} into {where} of type {go_type}"


class _Checker:
    def __init__(self, report: Report, typed: bool, map_keys_in_path: bool = True):
        self.r = report
        self.typed = typed
        self.map_keys_in_path = map_keys_in_path

    def go_type(self, node: dict) -> str:
        name = schemas.ref_name(node)
        if name is not None:
            if name in (_QUANTITY, _INT_OR_STRING) or name in _RAW_TYPES or name in _TIME_TYPES:
                return _go_name(name)[0]
            resolved = schemas.resolve(node)
            if resolved.get("properties"):
                return _go_name(name)[0]
            node = resolved
        t = node.get("type")
        if t == "array":
            return "[]" + self.go_type(node.get("items") or {})
        if t == "object":
            extra = node.get("additionalProperties")
            return "map[string]" + (self.go_type(extra) if isinstance(extra, dict) else "interface {}")
        if t == "string":
            return "[]uint8" if node.get("format") == "byte" else "string"
        if t == "integer":
            return node.get("format") if node.get("format") in ("int32", "int64") else "int"
        if t == "number":
            return "float64"
        if t == "boolean":
            return "bool"
        return "interface {}"

    def any_value(self, value: Any, ctx: _Ctx) -> None:
        """interface{} / unstructured content: only duplicate keys are findings (unstructured decoding)."""
        if not self.typed and _is_object(value):
            seen: set[str] = set()
            for k, v in _items(value):
                if k in seen:
                    self.r._strict("duplicate", ctx.key(k))
                seen.add(k)
                self.any_value(v, _Ctx(ctx.key(k), ctx.struct, ctx.stack))
        elif isinstance(value, list) and not isinstance(value, _Pairs):
            for i, v in enumerate(value):
                self.any_value(v, _Ctx(f"{ctx.strict_path}[{i}]", ctx.struct, ctx.stack))

    def special(self, name: str, value: Any, ctx: _Ctx) -> bool:
        """Types with their own UnmarshalJSON; True when handled."""
        if name in _RAW_TYPES:
            return True
        if not self.typed:
            return name in _TIME_TYPES or name in (_QUANTITY, _INT_OR_STRING)
        if name in _TIME_TYPES:
            if value is not None and not isinstance(value, str):
                self.r._fatal(ctx.type_error(_json_kind(value), "string"))
            return True
        if name == _INT_OR_STRING:
            if value is None or isinstance(value, str):
                return True
            kind = _json_kind(value)
            if kind == "number":
                if isinstance(value, float) or not -(2**31) <= value < 2**31:
                    kind = "number " + _literal(value)
                else:
                    return True
            self.r._fatal(ctx.type_error(kind, "int32"))
            return True
        if name == _QUANTITY:
            err = _quantity_error(value)
            if err:
                self.r._fatal(err)
            return True
        return False

    def value(self, node: dict, value: Any, ctx: _Ctx) -> None:
        name = schemas.ref_name(node)
        if name is not None and self.special(name, value, ctx):
            return
        schema = schemas.resolve(node)
        if value is None:
            return
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        t = schema.get("type")
        if props is not None or (t == "object" and isinstance(extra, dict)):
            if not _is_object(value):
                if self.typed:
                    self.r._saved(ctx.type_error(_json_kind(value), self.go_type(node)))
                return
            if props is not None:
                self.struct(name or "", schema, value, ctx)
            else:
                self.map(extra, value, ctx)
            return
        if t == "array":
            if not isinstance(value, list) or isinstance(value, _Pairs):
                if self.typed:
                    self.r._saved(ctx.type_error(_json_kind(value), self.go_type(node)))
                return
            items = schema.get("items") or {}
            for i, v in enumerate(value):
                self.value(items, v, _Ctx(f"{ctx.strict_path}[{i}]", ctx.struct, ctx.stack))
            return
        if t in ("string", "integer", "number", "boolean"):
            if self.typed:
                self.scalar(schema, value, ctx)
            return
        self.any_value(value, ctx)

    def struct(self, name: str, schema: dict, value: Any, ctx: _Ctx) -> None:
        props = schema["properties"]
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        struct_name = _go_name(name)[1] if name else ctx.struct
        seen: set[str] = set()
        for k, v in _items(value):
            if k in props:
                if k in seen:
                    self.r._strict("duplicate", ctx.key(k))
                seen.add(k)
                self.value(props[k], v, _Ctx(ctx.key(k), struct_name, (*ctx.stack, k)))
            elif preserve:
                self.any_value(v, _Ctx(ctx.key(k), ctx.struct, ctx.stack))
            else:
                self.r._strict("unknown", ctx.key(k))

    def map(self, extra: dict, value: Any, ctx: _Ctx) -> None:
        seen: set[str] = set()
        for k, v in _items(value):
            if k in seen:
                self.r._strict("duplicate", ctx.key(k))
            seen.add(k)
            path = ctx.key(k) if self.map_keys_in_path else ctx.strict_path
            self.value(extra, v, _Ctx(path, ctx.struct, ctx.stack))

    def scalar(self, schema: dict, value: Any, ctx: _Ctx) -> None:
        t = schema["type"]
        kind = _json_kind(value)
        if t == "string":
            if schema.get("format") == "byte":
                if kind != "string":
                    self.r._saved(ctx.type_error(kind, "[]uint8"))
                elif (err := go_base64_error(value)) is not None:
                    self.r._saved(err)
            elif kind != "string":
                self.r._saved(ctx.type_error(kind, "string"))
        elif t == "boolean":
            if kind != "bool":
                self.r._saved(ctx.type_error(kind, "bool"))
        elif t == "number":
            if kind != "number":
                self.r._saved(ctx.type_error(kind, "float64"))
        else:
            go = self.go_type(schema)
            if kind != "number":
                self.r._saved(ctx.type_error(kind, go))
                return
            bits = {"int32": 32, "int64": 64}.get(go, 64)
            if isinstance(value, float) or not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
                self.r._saved(ctx.type_error("number " + _literal(value), go))


def check(definition: str, body: bytes | str | dict) -> Report:
    """Decode ``body`` (raw JSON keeps duplicate keys visible) against ``definition`` like kube-apiserver."""
    obj = parse(body) if isinstance(body, (bytes, str)) else body
    report = Report()
    checker = _Checker(report, typed=not schemas.is_custom(definition))
    node = {"$ref": schemas.REF_PREFIX + definition}
    if not _is_object(obj):
        if checker.typed:
            report._saved(_Ctx().type_error(_json_kind(obj), _go_name(definition)[0]))
    else:
        checker.value(node, obj, _Ctx())
    if report._override is not None:
        report.decode_error = report._override
    return report


def patched_object_errors(definition: str, patched: dict) -> list[str]:
    """Unknown fields of a patched object as FromUnstructuredWithValidation words them (sorted, unquoted)."""
    report = Report()
    _Checker(report, typed=False, map_keys_in_path=False).value(
        {"$ref": schemas.REF_PREFIX + definition}, patched, _Ctx())
    return sorted(f'unknown field "{path}"' for path in report.unknown)


def patch_duplicate_errors(raw: bytes | str) -> list[str]:
    """Duplicate keys anywhere in a raw patch body (decoded into a plain map, so nothing else is strict)."""
    report = Report()
    _Checker(report, typed=False).any_value(parse(raw), _Ctx())
    return report.strict


def unknown_fields(definition: str, obj: bytes | str | dict) -> list[str]:
    """Paths of unknown fields, e.g. ``spec.containers[0].imagePullPolicyy``, in document order."""
    return check(definition, obj).unknown


def duplicate_fields(definition: str, raw: bytes | str) -> list[str]:
    """Paths of fields given twice in a raw JSON body (parsed dicts cannot show them)."""
    return check(definition, raw).duplicates


def type_errors(definition: str, obj: bytes | str | dict) -> list[str]:
    """Decode errors in document order; kube-apiserver reports only :func:`decode_error`'s choice among them."""
    return check(definition, obj).type_errors


def strict_errors(definition: str, obj: bytes | str | dict) -> list[str]:
    """``unknown field "..."`` / ``duplicate field "..."`` messages, as sent one per Warning header with Warn."""
    return check(definition, obj).strict


def strict_decoding_message(errors: list[str]) -> str:
    """runtime.StrictDecodingError text: ``strict decoding error: unknown field "a", unknown field "b"``."""
    return "strict decoding error: " + ", ".join(errors)


def warning_header(text: str) -> str:
    """A ``Warning`` header value as kube-apiserver writes it: ``299 - "unknown field \\"spec.x\\""``."""
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cannot_handle_message(kind: str, version: str, err: str) -> str:
    """The 400 BadRequest message for bodies that fail decoding (or Strict validation) on create/update."""
    return f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: {err}"
