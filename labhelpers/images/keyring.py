"""The kubelet's image-pull credential lookup (pkg/credentialprovider), ported rule for rule.

Which pull secret a pod's image uses, in which order credentials are tried, and why a secret silently does
nothing (``registry-1.docker.io`` keys, a missing ``auths`` wrapper, a wrong Secret type) are the lessons of
the course, so matching is reproduced exactly: keys are built with Go's url.Parse, the index is reverse
byte-sorted, hosts are compared label by label with filepath.Match, and Docker Hub falls back to the
``index.docker.io`` key. Entry decoding keeps config.go's errors (base64 offsets, the ``username:password``
rule) because the kubelet reports them verbatim as the pull error.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import _go
from .reference import repo_to_pull

__all__ = [
    "DEFAULT_REGISTRY_HOST",
    "FAILED_TO_RETRIEVE_IMAGE_PULL_SECRET",
    "AuthConfig",
    "DockerConfigEntry",
    "DockerConfigError",
    "DockerKeyring",
    "Keyring",
    "UnionKeyring",
    "decode_auth_field",
    "decode_entry",
    "encode_auth_field",
    "encode_entry",
    "image_pull_secret_names",
    "is_default_registry_match",
    "lookup",
    "make_docker_keyring",
    "missing_secrets_event_message",
    "parse_docker_config",
    "parse_docker_config_json",
    "pull_credentials",
    "registry_key",
    "urls_match",
]

log = logging.getLogger(__name__)

DEFAULT_REGISTRY_HOST = "index.docker.io"
SECRET_TYPE_DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
SECRET_TYPE_DOCKERCFG = "kubernetes.io/dockercfg"
DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson"
DOCKERCFG_KEY = ".dockercfg"
FAILED_TO_RETRIEVE_IMAGE_PULL_SECRET = "FailedToRetrieveImagePullSecret"
_AUTH_FORMAT_ERROR = "unable to parse auth field, must be formatted as base64(username:password)"
_ENTRY_STRUCT = "dockerConfigEntryWithAuth"


class DockerConfigError(ValueError):
    """A docker config the kubelet cannot decode; ``str()`` is the Go error text it reports."""


@dataclass(frozen=True)
class DockerConfigEntry:
    """One registry's credentials after config.go decoding (``auth`` already split)."""

    username: str = ""
    password: str = ""
    email: str = ""


@dataclass(frozen=True)
class AuthConfig:
    """A credential the kubelet may try; ``server`` is the registry key as written in the config."""

    username: str = ""
    password: str = ""
    email: str = ""
    server: str = ""
    source: str = ""  # provenance, e.g. the pull secret's name (TrackedAuthConfig.Source)


class Keyring(Protocol):
    def lookup(self, image: str) -> list[AuthConfig]: ...


# --- entry decoding (config.go) ------------------------------------------------------------------------------


def decode_auth_field(field: str) -> tuple[str, str]:
    """config.go decodeDockerConfigFieldAuth: padded base64 if it ends in '=', raw otherwise; split on ':'."""
    padded = _go.trim_space(field).endswith("=")
    try:
        decoded = _go.b64decode(field, padded=padded)
    except _go.Base64Error as e:
        raise DockerConfigError(str(e)) from None
    user, sep, password = decoded.partition(b":")
    if not sep:
        raise DockerConfigError(_AUTH_FORMAT_ERROR)
    return user.decode("utf-8", "surrogateescape"), password.decode("utf-8", "surrogateescape")


def encode_auth_field(username: str, password: str) -> str:
    return _go.b64encode(f"{username}:{password}".encode("utf-8", "surrogateescape"))


def _fold(key: str) -> str:
    """encoding/json matches struct fields case-insensitively (simple folding, so 'ſ' is an 's')."""
    return "".join("s" if c == "\u017f" else c.lower() for c in key)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


class _JSONTypeError(DockerConfigError):
    """encoding/json's UnmarshalTypeError, kept structured so an outer decoder can add its context."""

    def __init__(self, kind: str, struct: str, field: str, gotype: str) -> None:
        self.kind, self.struct, self.field, self.gotype = kind, struct, field, gotype
        where = f"Go struct field {struct}.{field}" if struct else "Go value"
        super().__init__(f"json: cannot unmarshal {kind} into {where} of type {gotype}")

    def within(self, struct: str, field: str) -> _JSONTypeError:
        """addErrorContext (Go 1.24+): the outer struct's name and its field path prefixed."""
        return _JSONTypeError(
            self.kind, struct, f"{field}.{self.field}" if self.field else field, self.gotype
        )


def _type_error(value: Any, struct: str, field: str, gotype: str) -> _JSONTypeError:
    return _JSONTypeError(_kind(value), struct, field, gotype)


def decode_entry(value: Any) -> DockerConfigEntry:
    """DockerConfigEntry.UnmarshalJSON for an already-decoded JSON value.

    Unknown fields are ignored, ``null`` leaves a field empty, and a non-empty ``auth`` replaces
    username/password. Raises :class:`DockerConfigError`.
    """
    if value is None:
        return DockerConfigEntry()
    if not isinstance(value, dict):
        raise _type_error(value, "", "", f"credentialprovider.{_ENTRY_STRUCT}")
    fields = {"username": "", "password": "", "email": "", "auth": ""}
    first_error: DockerConfigError | None = None
    for key, v in value.items():
        name = _fold(key)
        if name not in fields or v is None:
            continue
        if isinstance(v, str):
            fields[name] = v
        elif first_error is None:  # encoding/json keeps going and reports the first type error
            first_error = _type_error(v, _ENTRY_STRUCT, name, "string")
    if first_error is not None:
        raise first_error
    username, password = fields["username"], fields["password"]
    if fields["auth"]:
        username, password = decode_auth_field(fields["auth"])
    return DockerConfigEntry(username, password, fields["email"])


def encode_entry(entry: DockerConfigEntry) -> str:
    """DockerConfigEntry.MarshalJSON: omitempty fields plus a freshly encoded ``auth``, Go's JSON escaping."""
    obj = {"username": entry.username, "password": entry.password, "email": entry.email}
    obj = {k: v for k, v in obj.items() if v}
    obj["auth"] = encode_auth_field(entry.username, entry.password)
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text


def _load(content: str | bytes | Mapping[str, Any] | None) -> Any:
    if content is None or isinstance(content, dict):
        return content
    if isinstance(content, Mapping):
        return dict(content)
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")

    def reject_constant(name: str) -> None:
        raise DockerConfigError(f"invalid character {name[0]!r} looking for beginning of value")

    try:
        return json.loads(content, parse_constant=reject_constant)
    except json.JSONDecodeError as e:
        if e.pos >= len(content.rstrip()):
            raise DockerConfigError("unexpected end of JSON input") from None
        raise DockerConfigError(
            f"invalid character {content[e.pos]!r} looking for beginning of value"
        ) from None


def _decode_entries(value: dict[str, Any], context: tuple[str, str] | None) -> dict[str, DockerConfigEntry]:
    out: dict[str, DockerConfigEntry] = {}
    for registry, raw in value.items():
        try:
            out[registry] = decode_entry(raw)
        except _JSONTypeError as e:
            raise e.within(*context) if context else e from None
    return out


def parse_docker_config(content: str | bytes | Mapping[str, Any] | None) -> dict[str, DockerConfigEntry]:
    """A ``.dockercfg`` value: ``{registry: entry}`` at the top level (no ``auths`` wrapper)."""
    value = _load(content)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error(value, "", "", "credentialprovider.DockerConfig")
    return _decode_entries(value, None)


def parse_docker_config_json(content: str | bytes | Mapping[str, Any] | None) -> dict[str, DockerConfigEntry]:
    """A ``.dockerconfigjson`` / config.json value: entries under ``auths``; anything else yields nothing."""
    value = _load(content)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error(value, "", "", "credentialprovider.DockerConfigJSON")
    auths: dict[str, DockerConfigEntry] = {}
    saved: DockerConfigError | None = None  # type errors are saved and reported after decoding finishes
    for key, v in value.items():
        name = _fold(key)
        if name == "auths":
            if v is None:
                auths = {}
            elif isinstance(v, dict):
                auths.update(_decode_entries(v, ("DockerConfigJSON", "auths")))
            elif saved is None:
                saved = _type_error(v, "DockerConfigJSON", "auths", "credentialprovider.DockerConfig")
        elif name == "httpheaders" and v is not None and saved is None:
            if not isinstance(v, dict):
                saved = _type_error(v, "DockerConfigJSON", "HttpHeaders", "map[string]string")
            else:
                bad = next((h for h in v.values() if h is not None and not isinstance(h, str)), None)
                if bad is not None:
                    saved = _type_error(bad, "DockerConfigJSON", "HttpHeaders", "string")
    if saved is not None:
        raise saved
    return auths


# --- matching (keyring.go) -----------------------------------------------------------------------------------


def registry_key(registry: str) -> str | None:
    """The index key BasicDockerKeyring.Add files a registry under, or None when url.Parse rejects it.

    ``https://`` is assumed, and a leading ``/v1/`` or ``/v2/`` means the host itself:
    ``https://index.docker.io/v1/`` -> ``index.docker.io``; ``quay.io/coreos`` -> ``quay.io/coreos``.
    """
    value = registry if registry.startswith(("https://", "http://")) else "https://" + registry
    try:
        host, path = _go.parse_url(value)
    except _go.URLError as e:
        log.warning("Entry %s in dockercfg invalid (%s), ignoring", _go.quote(registry), e)
        return None
    if path.startswith(("/v2/", "/v1/")):
        path = path[3:]
    return host + path if path and path != "/" else host


def _split(raw: str) -> tuple[list[str], str, str] | None:
    try:
        host, path = _go.parse_url("https://" + raw)
    except _go.URLError:
        return None
    hp = _go.split_host_port(host)
    name, port = hp if hp is not None else (host, "")
    return name.split("."), port, path


def urls_match(glob: str, target: str) -> bool:
    """URLsMatchStr: same port, same number of host labels, each label a filepath.Match, path a prefix."""
    g, t = _split(glob), _split(target)
    if g is None or t is None:
        return False
    (g_parts, g_port, g_path), (t_parts, t_port, t_path) = g, t
    if g_port != t_port or len(g_parts) != len(t_parts) or not t_path.startswith(g_path):
        return False
    try:
        return all(_go.match(p, label) for p, label in zip(g_parts, t_parts, strict=True))
    except _go.BadPattern:
        return False


def is_default_registry_match(image: str) -> bool:
    """Whether the kubelet treats ``image`` as Docker Hub for the ``index.docker.io`` fallback."""
    first, sep, _ = image.partition("/")
    if not first:
        return False
    if not sep or first in ("docker.io", DEFAULT_REGISTRY_HOST):
        return True
    return "." not in first and ":" not in first


class DockerKeyring:
    """BasicDockerKeyring: credentials filed by registry key, looked up most specific key first."""

    def __init__(self) -> None:
        self._creds: dict[str, list[AuthConfig]] = {}
        self._index: list[str] = []

    @property
    def index(self) -> list[str]:
        """Keys in lookup order: unique and reverse byte-sorted (so ``a.io/x`` precedes ``a.io``)."""
        return list(self._index)

    def add(self, config: Mapping[str, DockerConfigEntry], source: str = "") -> None:
        """Add entries; credentials sharing a key are kept in insertion order (Go: map order)."""
        for registry, entry in config.items():
            key = registry_key(registry)
            if key is None:
                continue
            cred = AuthConfig(entry.username, entry.password, entry.email, server=registry, source=source)
            self._creds.setdefault(key, []).append(cred)
        self._index = sorted(self._creds, reverse=True)

    def lookup(self, image: str) -> list[AuthConfig]:
        """Every matching key's credentials in index order; else the Docker Hub fallback; else []."""
        found = [c for key in self._index if urls_match(key, image) for c in self._creds[key]]
        if found:
            return found
        if is_default_registry_match(image) and DEFAULT_REGISTRY_HOST in self._creds:
            return list(self._creds[DEFAULT_REGISTRY_HOST])
        return []


class UnionKeyring:
    """UnionDockerKeyring: each keyring's results concatenated in order (None members skipped)."""

    def __init__(self, keyrings: Iterable[Keyring | None]) -> None:
        self.keyrings = [k for k in keyrings if k is not None]

    def lookup(self, image: str) -> list[AuthConfig]:
        return lookup(image, self.keyrings)


def lookup(image: str, keyrings: Iterable[Keyring | None]) -> list[AuthConfig]:
    """Credentials in the order the kubelet tries them, for an already-normalised repository name.

    The kubelet passes :func:`~labhelpers.images.reference.repo_to_pull` of the pod's image (e.g.
    ``docker.io/library/nginx``), not the image as written; :func:`pull_credentials` does that for you.
    """
    return [c for k in keyrings if k is not None for c in k.lookup(image)]


# --- pod pull secrets (secrets.go, kubelet_pods.go) -----------------------------------------------------------


def _secret_value(secret: Mapping[str, Any], key: str) -> bytes:
    raw = (secret.get("data") or {}).get(key)
    if not raw:
        return b""
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as e:
        raise DockerConfigError(f"secret data {key} is not base64: {e}") from None


def make_docker_keyring(
    secrets: Iterable[Mapping[str, Any]], default_keyring: Keyring | None = None
) -> Keyring | None:
    """secrets.MakeDockerKeyring over API-form Secrets (``data`` base64-encoded), in imagePullSecrets order.

    Only ``kubernetes.io/dockerconfigjson`` + ``.dockerconfigjson`` and ``kubernetes.io/dockercfg`` +
    ``.dockercfg`` count; all of them go into ONE keyring, unioned before ``default_keyring`` (the node's).
    A decode error in any secret raises :class:`DockerConfigError` (the kubelet's pull error).
    """
    keyring = DockerKeyring()
    valid = 0
    for secret in secrets:
        stype = secret.get("type")
        name = (secret.get("metadata") or {}).get("name", "")
        if stype == SECRET_TYPE_DOCKER_CONFIG_JSON and (raw := _secret_value(secret, DOCKER_CONFIG_JSON_KEY)):
            keyring.add(parse_docker_config_json(raw), source=name)
            valid += 1
        elif stype == SECRET_TYPE_DOCKERCFG and (raw := _secret_value(secret, DOCKERCFG_KEY)):
            keyring.add(parse_docker_config(raw), source=name)
            valid += 1
    if not valid:
        return default_keyring
    return UnionKeyring([keyring, default_keyring])


def pull_credentials(image: str, dockerconfigjsons: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(registry key as written, username, password) in the order the kubelet tries them for ``image``.

    ``dockerconfigjsons`` are decoded ``.dockerconfigjson`` objects in imagePullSecrets order. An invalid
    image raises InvalidImageNameError; an undecodable config raises :class:`DockerConfigError`.
    """
    repo = repo_to_pull(image)
    keyring = DockerKeyring()
    for cfg in dockerconfigjsons:
        keyring.add(parse_docker_config_json(cfg))
    return [(c.server, c.username, c.password) for c in keyring.lookup(repo)]


def image_pull_secret_names(pod: Mapping[str, Any]) -> list[str]:
    """pod.spec.imagePullSecrets names in order; empty names are skipped as the kubelet does."""
    refs = ((pod.get("spec") or {}).get("imagePullSecrets")) or []
    return [name for ref in refs if (name := (ref or {}).get("name"))]


def missing_secrets_event_message(names: Iterable[str]) -> str:
    """The FailedToRetrieveImagePullSecret Warning event text (names joined with ', ' as in kubelet_pods.go)."""
    joined = ", ".join(names)
    return f"Unable to retrieve some image pull secrets ({joined}); attempting to pull the image may not succeed."
