"""Registry pull secrets the three ways of Lab 03, and a table that shows what the kubelet makes of one.

* Exercise 1 - :func:`docker_registry_secret` builds byte for byte what ``kubectl create secret
  docker-registry`` sends (Go's compact JSON with its HTML escaping, ``email`` omitted when empty).
* Exercise 2/7 - :func:`secret_from_docker_config` is ``kubectl create secret generic --from-file=
  .dockerconfigjson=FILE --type=kubernetes.io/dockerconfigjson``: the file's bytes, unvalidated.
* Exercise 3 - :func:`registry_secret_manifest` writes the YAML of the heredoc, :func:`secret_from_yaml`
  reads any Secret manifest.

:func:`create_secret` sends any of them (safe to re-run in a notebook) and :func:`dockerconfig_table` explains a
secret entry by entry with the kubelet's own matching rules. Passwords are masked unless ``reveal=True``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from . import _kube
from ._display import FAIL, OK, WARN, LabError, LabTable, lab_table, mask
from .images import keyring as kr
from .images.reference import InvalidImageNameError, InvalidReferenceError, repo_to_pull

__all__ = [
    "DEFAULT_SERVER",
    "DOCKERCFG_KEY",
    "DOCKER_CONFIG_JSON_KEY",
    "DockerConfig",
    "SECRET_TYPE_DOCKERCFG",
    "SECRET_TYPE_DOCKER_CONFIG_JSON",
    "TABLE_COLUMNS",
    "create_secret",
    "decode_dockerconfigjson",
    "docker_registry_secret",
    "dockerconfig_table",
    "dockerconfigjson_bytes",
    "go_json",
    "kubectl_create_command",
    "registry_secret_manifest",
    "secret_from_docker_config",
    "secret_from_yaml",
    "secret_problems",
]

DEFAULT_SERVER = "https://index.docker.io/v1/"
SECRET_TYPE_DOCKER_CONFIG_JSON = kr.SECRET_TYPE_DOCKER_CONFIG_JSON
SECRET_TYPE_DOCKERCFG = kr.SECRET_TYPE_DOCKERCFG
DOCKER_CONFIG_JSON_KEY = kr.DOCKER_CONFIG_JSON_KEY
DOCKERCFG_KEY = kr.DOCKERCFG_KEY

TABLE_COLUMNS = ["registry", "kubelet key", "username", "password", "email", "auth valid?", "matches",
                 "ignored by the kubelet"]

_MISSING_CREDENTIALS = ("either --from-file or the combination of --docker-username, --docker-password and "
                        "--docker-server is required")
_KUBELET_FIELDS = ("username", "password", "auth")
_HASH_MAP = str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"})

Obj = dict[str, Any]


# --- Go encoding/json -----------------------------------------------------------------------------------------


def go_json(value: Any, *, sort_keys: bool = False) -> str:
    """``json.Marshal``: compact, UTF-8 kept, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as Go does.

    Go sorts map keys and keeps struct fields in declaration order; pass dicts built in the right order, or
    ``sort_keys=True`` when every object is a Go map.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _entry(username: str, password: str, email: str | None) -> Obj:
    """kubectl's DockerConfigEntry: every field omitempty, in struct order, ``auth`` = base64(user:password)."""
    fields = {"username": username, "password": password, "email": email or "",
              "auth": _b64(f"{username}:{password}".encode())}
    return {k: v for k, v in fields.items() if v}


def dockerconfigjson_bytes(server: str, username: str, password: str, email: str | None = None) -> bytes:
    """The exact ``.dockerconfigjson`` bytes ``kubectl create secret docker-registry`` stores."""
    return go_json({"auths": {server: _entry(username, password, email)}}).encode()


def _secret(name: str, data: Mapping[str, bytes], namespace: str | None, stype: str) -> Obj:
    """A Secret in the field order of ``kubectl create ... -o json`` (namespace only when given, like -n)."""
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"kind": "Secret", "apiVersion": "v1", "metadata": meta,
            "data": {k: _b64(v) for k, v in sorted(data.items())}, "type": stype}


def _hash_suffix(secret: Mapping[str, Any]) -> str:
    """kubectl's ``--append-hash`` suffix (pkg/util/hash: SecretHash)."""
    encoded = go_json({"data": dict(secret.get("data") or {}), "kind": "Secret",
                       "name": secret["metadata"]["name"], "type": secret.get("type", "")}, sort_keys=True)
    return hashlib.sha256(encoded.encode()).hexdigest()[:10].translate(_HASH_MAP)


def docker_registry_secret(name: str, server: str, username: str, password: str, email: str | None = None,
                           namespace: str | None = None, *, append_hash: bool = False) -> Obj:
    """What ``kubectl create secret docker-registry NAME --docker-server=... --dry-run=client -o json`` prints.

    Args:
        name: Secret name.
        server: ``--docker-server`` exactly as typed (``https://index.docker.io/v1/``, ``myregistry.com``...);
            it becomes the key under ``auths`` verbatim.
        username: ``--docker-username``.
        password: ``--docker-password``.
        email: ``--docker-email``; omitted from the JSON when empty, as kubectl does.
        namespace: ``-n``; ``metadata.namespace`` is only set when given.
        append_hash: ``--append-hash``: suffix the name with kubectl's content hash.

    Returns:
        The Secret as a dict, ``data[".dockerconfigjson"]`` base64-encoded.

    Raises:
        LabError: with kubectl's message when server, username or password is empty.
    """
    if not name:
        raise LabError("name must be specified", "give the Secret a name, e.g. 'dockerhub-secret'")
    if not (username and password and server):
        raise LabError(_MISSING_CREDENTIALS, "pass server, username and password (all non-empty)")
    secret = _secret(name, {DOCKER_CONFIG_JSON_KEY: dockerconfigjson_bytes(server, username, password, email)},
                     namespace, SECRET_TYPE_DOCKER_CONFIG_JSON)
    if append_hash:
        secret["metadata"]["name"] = f"{name}-{_hash_suffix(secret)}"
    return secret


def kubectl_create_command(name: str, server: str, username: str, password: str, email: str | None = None,
                           namespace: str | None = None, *, reveal: bool = False) -> str:
    """The equivalent ``kubectl create secret docker-registry`` command, password masked unless ``reveal``."""
    args = [_quote_flag(f"--docker-server={server}"), _quote_flag(f"--docker-username={username}"),
            _quote_flag(f"--docker-password={password}") if reveal else f"--docker-password={mask(password)}"]
    if email:
        args.append(_quote_flag(f"--docker-email={email}"))
    if namespace:
        args.append(f"-n {shlex.quote(namespace)}")
    return " \\\n  ".join([f"kubectl create secret docker-registry {shlex.quote(name)}", *args])


def _quote_flag(flag: str) -> str:
    key, _, value = flag.partition("=")
    return f"{key}={shlex.quote(value)}" if value else flag


def secret_from_docker_config(name: str, path_or_dict: str | Path | Mapping[str, Any], *,
                              namespace: str | None = None, key: str = DOCKER_CONFIG_JSON_KEY) -> Obj:
    """``kubectl create secret generic NAME --from-file=.dockerconfigjson=PATH --type=kubernetes.io/dockerconfigjson``.

    A path's bytes are stored verbatim and not validated (the API server validates, as with kubectl). A dict
    (e.g. a parsed ``~/.docker/config.json``) is written as compact Go-style JSON in its own key order.

    Raises:
        LabError: when the file cannot be read (kubectl's ``error reading PATH: ...``).
    """
    if isinstance(path_or_dict, Mapping):
        content = go_json(path_or_dict).encode()
    else:
        path = Path(path_or_dict).expanduser()
        try:
            content = path.read_bytes()
        except OSError as e:
            raise LabError(f"error reading {path_or_dict}: {(e.strerror or str(e)).lower()}",
                           "check the path; `docker login` writes ~/.docker/config.json") from None
    return _secret(name, {key: content}, namespace, SECRET_TYPE_DOCKER_CONFIG_JSON)


def registry_secret_manifest(name: str, registries: Mapping[str, tuple[str, str] | Mapping[str, Any]], *,
                             namespace: str | None = None) -> str:
    """The YAML Exercise 3's heredoc produces: ``{"auths":{REGISTRY:{"auth":BASE64}}}`` base64-encoded.

    Args:
        name: Secret name.
        registries: registry -> ``(username, password)`` (written as an ``auth`` field only, like the
            exercise) or -> a raw entry dict written as is. Order is kept.
        namespace: written as ``metadata.namespace`` when given.

    Returns:
        Manifest text ready for ``kubectl apply -f -`` or :func:`secret_from_yaml`. Unlike ``base64`` without
        ``-w0`` in the shell, long ``auth`` values are never wrapped.
    """
    auths: Obj = {}
    for registry, creds in registries.items():
        if isinstance(creds, Mapping):
            auths[registry] = dict(creds)
        else:
            user, password = creds
            auths[registry] = {"auth": _b64(f"{user}:{password}".encode())}
    encoded = _b64(go_json({"auths": auths}).encode())
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {name}"]
    if namespace:
        lines.append(f"  namespace: {namespace}")
    lines += [f"type: {SECRET_TYPE_DOCKER_CONFIG_JSON}", "data:", f"  {DOCKER_CONFIG_JSON_KEY}: {encoded}"]
    return "\n".join(lines) + "\n"


def secret_from_yaml(source: str | Path) -> Obj:
    """A Secret from manifest text or a manifest file (one YAML document).

    Raises:
        LabError: when the text is not YAML or does not describe a Secret.
    """
    text = str(source)
    if isinstance(source, Path) or ("\n" not in text and Path(text).expanduser().is_file()):
        text = Path(source).expanduser().read_text()
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise LabError(f"the manifest is not valid YAML: {e}", "check indentation and quoting") from None
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        kind = obj.get("kind") if isinstance(obj, dict) else type(obj).__name__
        raise LabError(f"expected a Secret manifest, got kind {kind!r}",
                       "the manifest needs 'apiVersion: v1' and 'kind: Secret'")
    return obj


# --- sending --------------------------------------------------------------------------------------------------


def _as_dict(api: client.ApiClient | None, secret: Any) -> Obj:
    if isinstance(secret, Mapping):
        return json.loads(json.dumps(secret, default=str))
    if api is None:
        api = client.ApiClient()
    return api.sanitize_for_serialization(secret)


def _effective_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """``data`` decoded, with ``stringData`` merged over it as the API server does."""
    out: dict[str, bytes] = {}
    for k, v in (secret.get("data") or {}).items():
        try:
            out[k] = base64.b64decode(v or "", validate=True)
        except (binascii.Error, ValueError):
            out[k] = str(v).encode()
    for k, v in (secret.get("stringData") or {}).items():
        out[k] = str(v).encode()
    return out


def create_secret(api: client.ApiClient, secret: Mapping[str, Any] | client.V1Secret, *,
                  namespace: str | None = None, replace: bool = False, quiet: bool = False) -> Obj:
    """Create a Secret; re-running the same cell is harmless.

    Prints kubectl's one-liner (``secret/NAME created`` / ``unchanged`` / ``replaced``) unless ``quiet``.

    Args:
        api: ApiClient from :func:`labhelpers.connect`.
        secret: a dict from the builders above or a ``V1Secret``.
        namespace: used when the secret has no ``metadata.namespace``; default: the kubeconfig's namespace.
        replace: overwrite an existing secret whose content differs (deleted and re-created when its
            ``type`` differs, since ``type`` is immutable).
        quiet: print nothing.

    Returns:
        The Secret as stored by the API server (a dict).

    Raises:
        LabError: the API server refused it (message as kubectl prints it), or a different secret with that name
            exists and ``replace`` is False.
    """
    body = _as_dict(api, secret)
    meta = body.setdefault("metadata", {})
    name = meta.get("name") or ""
    obj_ns = meta.get("namespace")
    if obj_ns and namespace and obj_ns != namespace:
        raise LabError(f'the namespace from the provided object "{obj_ns}" does not match the namespace '
                       f'"{namespace}". You must pass \'--namespace={obj_ns}\' to perform this operation.',
                       "drop the namespace argument or fix metadata.namespace")
    ns = obj_ns or namespace or _kube.current_namespace()
    v1 = _kube.core(api)
    say = (lambda _m: None) if quiet else print
    try:
        created = _kube.raw(v1.create_namespaced_secret, ns, body)
        say(f"secret/{created['metadata']['name']} created")
        return created
    except _kube.ApiException as e:
        if e.status != 409 or not name:
            raise _create_error(e, ns) from None
    existing = _kube.raw(v1.read_namespaced_secret, name, ns)
    same_type = existing.get("type", "Opaque") == (body.get("type") or "Opaque")
    if same_type and _effective_data(existing) == _effective_data(body):
        say(f"secret/{name} unchanged")
        return existing
    if not replace:
        raise LabError(f'secret "{name}" already exists in namespace "{ns}" with different content',
                       "pass replace=True to overwrite it, or pick another name")
    try:
        if same_type:
            body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            stored = _kube.raw(v1.replace_namespaced_secret, name, ns, body)
        else:
            _kube.raw(v1.delete_namespaced_secret, name, ns)
            body["metadata"].pop("resourceVersion", None)
            stored = _kube.raw(v1.create_namespaced_secret, ns, body)
    except _kube.ApiException as e:
        raise _create_error(e, ns) from None
    say(f"secret/{name} replaced")
    return stored


def _create_error(exc: _kube.ApiException, namespace: str) -> LabError:
    reason, message = _kube.api_error(exc)
    hints = {
        "Invalid": "fix the field named in the message; a dockerconfigjson secret needs the key "
                   f"{DOCKER_CONFIG_JSON_KEY} holding JSON with an 'auths' object",
        "NotFound": f"create the namespace first: kubectl create namespace {namespace}",
        "Forbidden": "your user may not create secrets here (or the namespace is terminating)",
    }
    return LabError(f"failed to create secret {message}", hints.get(reason, "see the message above"))


# --- reading --------------------------------------------------------------------------------------------------


def _payload(secret: Mapping[str, Any]) -> tuple[str, str, bytes | None]:
    """(type, key, bytes) of the docker config inside an API-form secret (``None`` when absent)."""
    stype = secret.get("type") or "Opaque"
    data = _effective_data(secret)
    for key in (DOCKER_CONFIG_JSON_KEY, DOCKERCFG_KEY):
        if key in data:
            return stype, key, data[key]
    return stype, "", None


def _loads(content: bytes, what: str) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError) as e:
        raise LabError(f"{what} is not JSON: {e}",
                       "recreate the secret from a valid config.json or with kubectl create secret docker-registry"
                       ) from None


class DockerConfig(dict):
    """A decoded docker config: a plain dict for code (``json.dump`` writes the real values), but shown with
    passwords, ``auth`` and tokens masked unless it was decoded with ``reveal=True``."""

    reveal: bool = False

    def _shown(self) -> str:
        from .shell import mask_text

        text = json.dumps(self, indent=2, ensure_ascii=False)
        return text if self.reveal else mask_text(text)

    def __repr__(self) -> str:
        return self._shown()

    def __str__(self) -> str:
        return self._shown()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self._shown())


def decode_dockerconfigjson(secret: Mapping[str, Any] | client.V1Secret, reveal: bool = False) -> DockerConfig:
    """The JSON inside a ``.dockerconfigjson`` (or legacy ``.dockercfg``) secret, as a dict.

    This is what ``kubectl get secret S -o jsonpath='{.data.\\.dockerconfigjson}' | base64 -d | jq .`` shows. The
    values are real; only its printed form masks passwords (unless ``reveal``). :func:`dockerconfig_table`
    explains it entry by entry.

    Raises:
        LabError: the secret holds no docker config, or its content is not JSON.
    """
    body = _as_dict(None, secret)
    _, key, content = _payload(body)
    if content is None:
        raise LabError(f"the secret has neither {DOCKER_CONFIG_JSON_KEY} nor {DOCKERCFG_KEY} in its data",
                       f"registry secrets keep their config under the key {DOCKER_CONFIG_JSON_KEY}")
    value = _loads(content, key)
    if not isinstance(value, dict):
        raise LabError(f"{key} holds a JSON {type(value).__name__}, not an object",
                       'the value must look like {"auths": {"registry": {...}}}')
    config = DockerConfig(value)
    config.reveal = reveal
    return config


def _fold_get(obj: Mapping[str, Any], name: str) -> tuple[str | None, Any]:
    """encoding/json's case-insensitive field match: (key as written, value)."""
    for k, v in obj.items():
        if k.lower() == name:
            return k, v
    return None, None


def _auth_cell(raw: Mapping[str, Any], reveal: bool) -> str:
    _, auth = _fold_get(raw, "auth")
    _, user = _fold_get(raw, "username")
    _, password = _fold_get(raw, "password")
    try:
        kr.decode_entry(dict(raw))
    except kr.DockerConfigError as e:
        return f"{FAIL} {e}"
    if not auth:
        if user or password:
            return f"{OK} no auth field: username/password are used"
        return f"{FAIL} no credentials: neither auth nor username/password"
    auth_user, auth_password = kr.decode_auth_field(auth)
    problems = []
    if user and user != auth_user:
        problems.append(f"auth holds user {auth_user!r} but username says {user!r}")
    if password and password != auth_password:
        shown = f" ({auth_password!r} vs {password!r})" if reveal else ""
        problems.append(f"auth holds a different password than the password field{shown}")
    if problems:
        return f"{WARN} " + "; ".join(problems) + ": the kubelet uses auth"
    return f"{OK} base64(user:password)" + ("" if user or password else " (auth only)")


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def _matches(entry_index: int, creds_per_image: Mapping[str, list[int]]) -> str:
    out = []
    for image, order in creds_per_image.items():
        if entry_index in order:
            pos = order.index(entry_index) + 1
            out.append(image if len(order) == 1 else f"{image} ({_ordinal(pos)} of {len(order)})")
    return "\n".join(out)


def dockerconfig_table(secret: Mapping[str, Any] | client.V1Secret, images: Iterable[str] | None = None,
                       reveal: bool = False) -> LabTable:
    """One row per registry entry, with what the kubelet does with it.

    Args:
        secret: an API-form Secret (dict or ``V1Secret``) or an already decoded config (``{"auths": ...}``).
        images: images to match against the entries with the kubelet's rules (Docker Hub fallback included).
        reveal: show passwords in clear.

    Returns:
        A :class:`LabTable` with columns ``registry`` (as written), ``kubelet key`` (the normalised key the
        kubelet's keyring files it under, empty when ignored), ``username``, ``password`` (masked), ``email``,
        ``auth valid?``, ``matches`` (which of ``images`` would use it, and in which position) and
        ``ignored by the kubelet``. Problems with the secret as a whole are in the notes.
    """
    images = list(images or [])
    notes: list[str] = []
    body = _as_dict(None, secret)
    name = (body.get("metadata") or {}).get("name", "")
    if "auths" in body and "data" not in body and "kind" not in body:
        config, legacy = body, False
    else:
        stype, key, content = _payload(body)
        if content is None:
            return lab_table([], TABLE_COLUMNS, caption=f"secret {name}", notes=[
                f"{FAIL} no {DOCKER_CONFIG_JSON_KEY} key in the secret's data: the kubelet ignores it"])
        if stype not in (SECRET_TYPE_DOCKER_CONFIG_JSON, SECRET_TYPE_DOCKERCFG):
            notes.append(f"{FAIL} type {stype}: the kubelet only reads secrets of type "
                         f"{SECRET_TYPE_DOCKER_CONFIG_JSON} (or the legacy {SECRET_TYPE_DOCKERCFG}); "
                         "recreate it with --type=kubernetes.io/dockerconfigjson")
        elif (stype == SECRET_TYPE_DOCKER_CONFIG_JSON) != (key == DOCKER_CONFIG_JSON_KEY):
            notes.append(f"{FAIL} type {stype} needs the data key "
                         f"{DOCKER_CONFIG_JSON_KEY if stype == SECRET_TYPE_DOCKER_CONFIG_JSON else DOCKERCFG_KEY}")
        try:
            config = json.loads(content)
        except (ValueError, UnicodeDecodeError) as e:
            return lab_table([], TABLE_COLUMNS, caption=f"secret {name}",
                             notes=[*notes, f"{FAIL} {key} is not JSON ({e}): the API server would reject it"])
        legacy = key == DOCKERCFG_KEY
    if not isinstance(config, dict):
        return lab_table([], TABLE_COLUMNS, caption=f"secret {name}",
                         notes=[*notes, f"{FAIL} the config is a JSON {type(config).__name__}, not an object"])
    entries, more_notes = _entries(config, legacy)
    notes += more_notes
    rows = _rows(entries, images, reveal)
    caption = f"secret {name}" if name else "docker config"
    return lab_table(rows, TABLE_COLUMNS, caption=caption, notes=notes)


def _entries(config: Mapping[str, Any], legacy: bool) -> tuple[dict[str, Any], list[str]]:
    notes: list[str] = []
    if legacy:
        return dict(config), notes
    key, auths = _fold_get(config, "auths")
    ignored = [k for k in config if k != key and k.lower() != "httpheaders"]
    if key is None:
        looks_like_registries = [k for k in config if isinstance(config[k], dict) and
                                 any(f in config[k] for f in _KUBELET_FIELDS)]
        if looks_like_registries:
            notes.append(f"{FAIL} no 'auths' wrapper: {', '.join(looks_like_registries)} sit at the top level "
                         'where the kubelet never looks; nest them as {"auths": {...}}')
        else:
            notes.append(f"{FAIL} no 'auths' object: the kubelet finds no credentials in this secret")
        return {}, notes
    if ignored:
        notes.append(f"{WARN} top-level keys the kubelet ignores: {', '.join(ignored)} "
                     "(credential helpers and stores only work on a machine with Docker)")
    if not isinstance(auths, dict):
        notes.append(f"{FAIL} 'auths' is a JSON {type(auths).__name__}, not an object")
        return {}, notes
    if not auths:
        notes.append(f"{FAIL} 'auths' is empty: no registry has credentials")
    return auths, notes


def _rows(entries: Mapping[str, Any], images: Sequence[str], reveal: bool) -> list[Obj]:
    keyring = kr.DockerKeyring()
    for i, (registry, raw) in enumerate(entries.items()):
        try:
            decoded = kr.decode_entry(raw)
        except kr.DockerConfigError:
            continue
        keyring.add({registry: decoded}, source=str(i))
    per_image: dict[str, list[int]] = {}
    for image in images:
        try:
            repo = repo_to_pull(image)
        except (InvalidImageNameError, InvalidReferenceError, ValueError):
            per_image[f"{image} (invalid image name)"] = []
            continue
        per_image[image] = [int(c.source) for c in keyring.lookup(repo)]
    rows = []
    for i, (registry, raw) in enumerate(entries.items()):
        raw = raw if isinstance(raw, dict) else {}
        _, user = _fold_get(raw, "username")
        _, password = _fold_get(raw, "password")
        _, email = _fold_get(raw, "email")
        _, auth = _fold_get(raw, "auth")
        if auth:  # the kubelet takes user and password from auth when it is set
            with contextlib.suppress(kr.DockerConfigError):
                user, password = kr.decode_auth_field(auth)
        key = kr.registry_key(registry)
        ignored = [k for k in raw if k.lower() not in _KUBELET_FIELDS]
        rows.append({
            "registry": registry,
            "kubelet key": key if key is not None else f"{FAIL} not a valid URL: entry ignored",
            "username": str(user or ""),
            "password": mask(str(password or ""), reveal),
            "email": str(email or ""),
            "auth valid?": _auth_cell(raw, reveal) if isinstance(raw, dict) else f"{FAIL} not an object",
            "matches": _matches(i, per_image),
            "ignored by the kubelet": ", ".join(ignored),
        })
    return rows


def secret_problems(secret: Mapping[str, Any] | client.V1Secret) -> list[str]:
    """Why the kubelet would ignore or reject (part of) a pull secret, one sentence each, no passwords.

    Empty for a well-formed registry secret; used by :func:`labhelpers.pods.diagnose` ("wrong secret format").
    """
    table = dockerconfig_table(secret)
    out = [n.removeprefix(FAIL).strip() for n in table.notes if n.startswith(FAIL)]
    for _, row in table.iterrows():
        for column in ("kubelet key", "auth valid?"):
            cell = str(row[column])
            if cell.startswith(FAIL):
                out.append(f"entry {row['registry']!r}: {cell.removeprefix(FAIL).strip()}")
    return out
