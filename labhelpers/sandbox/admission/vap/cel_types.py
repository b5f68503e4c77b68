"""CEL's static types as cel-go's checker sees them, spelled the way its error messages print them."""

from __future__ import annotations

from dataclasses import dataclass

_PRIMITIVE_NAMES = {
    "int": "int", "uint": "uint", "double": "double", "bool": "bool", "string": "string", "bytes": "bytes",
    "null": "null_type", "dyn": "dyn", "error": "*error*", "duration": "google.protobuf.Duration",
    "timestamp": "google.protobuf.Timestamp",
}


@dataclass(frozen=True)
class Type:
    kind: str  # a primitive name, list | map | optional | type | object | param
    params: tuple[Type, ...] = ()
    name: str = ""  # object type name or type-parameter name

    def __str__(self) -> str:
        if self.kind in _PRIMITIVE_NAMES:
            return _PRIMITIVE_NAMES[self.kind]
        if self.kind == "list":
            return f"list({self.params[0]})"
        if self.kind == "map":
            return f"map({self.params[0]}, {self.params[1]})"
        if self.kind == "optional":
            return f"optional_type({self.params[0]})"
        if self.kind == "type":
            return f"type({self.params[0]})" if self.params else "type"
        return self.name


INT = Type("int")
UINT = Type("uint")
DOUBLE = Type("double")
BOOL = Type("bool")
STRING = Type("string")
BYTES = Type("bytes")
NULL = Type("null")
DYN = Type("dyn")
ERROR = Type("error")
DURATION = Type("duration")
TIMESTAMP = Type("timestamp")


def list_of(elem: Type) -> Type:
    return Type("list", (elem,))


def map_of(key: Type, value: Type) -> Type:
    return Type("map", (key, value))


def optional_of(inner: Type) -> Type:
    return Type("optional", (inner,))


def type_of(inner: Type) -> Type:
    return Type("type", (inner,))


def obj(name: str) -> Type:
    return Type("object", (), name)


def param(name: str) -> Type:
    return Type("param", (), name)


def is_dyn_or_error(t: Type) -> bool:
    return t.kind in ("dyn", "error")


# --- a tiny signature language for declarations: "list(A)", "map(string, dyn)", "kubernetes.URL" ---

def parse_type(text: str) -> Type:
    t, rest = _parse(text.replace(" ", ""))
    if rest:
        raise ValueError(f"trailing text in type {text!r}")
    return t


def _parse(s: str) -> tuple[Type, str]:
    i = 0
    while i < len(s) and (s[i].isalnum() or s[i] in "._"):
        i += 1
    head, rest = s[:i], s[i:]
    if rest.startswith("("):
        args: list[Type] = []
        rest = rest[1:]
        while not rest.startswith(")"):
            t, rest = _parse(rest)
            args.append(t)
            if rest.startswith(","):
                rest = rest[1:]
        rest = rest[1:]
        kind = {"list": "list", "map": "map", "opt": "optional", "type": "type"}[head]
        return Type(kind, tuple(args)), rest
    if head in _PRIMITIVE_NAMES:
        return Type(head), rest
    if len(head) == 1 and head.isupper():
        return param(head), rest
    return obj(head), rest
