"""Request decoding and query-parameter parsing, with the apiserver's error texts."""

from __future__ import annotations

import json
from typing import Any

import yaml

from .errors import ApiError

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"


def parse_bool(value: str | None) -> bool:
    """apimachinery's query bool: anything but "", "0" and "false" (any case) is true."""
    if value is None:
        return False
    return value.strip().lower() not in ("", "0", "false")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def go_json_error(err: json.JSONDecodeError, text: str) -> str:
    """Approximate encoding/json's syntax error text for the common cases a learner produces."""
    pos = err.pos
    if pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    ch = text[pos]
    shown = "'" + ch + "'" if ch != "'" else "'\\''"
    if err.msg.startswith("Expecting value"):
        return f"invalid character {shown} looking for beginning of value"
    if err.msg.startswith("Expecting property name"):
        return f"invalid character {shown} looking for beginning of object key string"
    if err.msg.startswith("Expecting ',' delimiter") or err.msg.startswith("Expecting ':' delimiter"):
        where = "after object key" if "':'" in err.msg else "after object key:value pair"
        if text.lstrip().startswith("[") and "':'" not in err.msg:
            where = "after array element"
        return f"invalid character {shown} {where}"
    if err.msg.startswith("Extra data"):
        return f"invalid character {shown} after top-level value"
    return f"invalid character {shown} looking for beginning of value"


def decode_body(raw: bytes, content_type: str | None, expected: tuple[str, str] | None = None) -> Any:
    """Decode a create/update body (JSON, YAML or Kubernetes protobuf) into a dict."""
    mt = media_type(content_type)
    if mt in ("", JSON, "*/*", MERGE_PATCH, STRATEGIC_PATCH, JSON_PATCH):
        text = raw.decode("utf-8", errors="replace")
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ApiError.bad_request(f"couldn't get version/kind; json parse error: {go_json_error(e, text)}") from e
    if mt in (YAML, "application/yml", "text/yaml", APPLY_PATCH):
        try:
            return yaml.safe_load(raw.decode("utf-8", errors="replace"))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f"line {mark.line + 1}: " if mark else ""
            raise ApiError.bad_request(f"error converting YAML to JSON: yaml: {line}{getattr(e, 'problem', e)}") from e
    if mt == PROTOBUF:
        from . import protobuf

        try:
            return protobuf.decode(raw, expected)
        except protobuf.ProtobufDecodeError as e:
            raise ApiError.bad_request(str(e)) from e
    raise ApiError(415, "UnsupportedMediaType",
                   f'the body of the request was in an unknown format - accepted media types include: '
                   f'{JSON}, {YAML}, {PROTOBUF}')


def wants_table(accept: str | None) -> bool:
    if not accept:
        return False
    for part in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
                  for p in part.split(";")[1:] if "=" in p}
        if params.get("as") == "Table" and params.get("g", "meta.k8s.io") == "meta.k8s.io":
            return True
        if media_type(part) in (JSON, "*/*"):
            return False
    return False


def discovery_v2_requested(accept: str | None) -> str | None:
    """The aggregated-discovery version kubectl asked for first (v2 or v2beta1), or None for legacy."""
    if not accept:
        return None
    for part in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
                  for p in part.split(";")[1:] if "=" in p}
        if params.get("as") == "APIGroupDiscoveryList" and params.get("g") == "apidiscovery.k8s.io":
            if params.get("v") in ("v2", "v2beta1"):
                return params["v"]
        elif media_type(part) in (JSON, "*/*"):
            return None
    return None


def go_value(v: Any) -> str:
    """Go's %v of a decoded JSON patch (map[k:v ...]), used inside apiserver patch error messages."""
    from .smp import go_v

    return go_v(v)
