"""Everything the API says about one pod's image pulls, gathered once for ``pull_explain`` and ``diagnose``.

Only what a learner's kubeconfig can read is used: the pod, its events, its ServiceAccount and the secrets it
names. The kubelet's credential choice is recomputed with the ported keyring (:mod:`labhelpers.images`), and the
container runtime's pull error text is sorted into the few causes the lab teaches.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubernetes import client

from . import _kube
from .images import keyring as kr
from .images.reference import InvalidImageNameError, InvalidReferenceError, repo_to_pull
from .secrets import SECRET_TYPE_DOCKER_CONFIG_JSON, SECRET_TYPE_DOCKERCFG, secret_problems

Obj = dict[str, Any]

PULL_REASONS = ("Pulling", "Pulled", "Failed", "BackOff", "ErrImageNeverPull", "InspectFailed")
PULL_WAITING = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "ImageInspectError",
                "RegistryUnavailable", "SignatureValidationFailed")
_FAILED_PREFIX = re.compile(r'^Failed to pull image "(?:[^"\\]|\\.)*": ')
_BACKOFF_PREFIX = re.compile(r'^Back-off pulling image "(?:[^"\\]|\\.)*": [A-Za-z]+: ')


# --- the runtime's error text ---------------------------------------------------------------------------------

CAUSES = {
    "not_found": "the image or tag does not exist in the registry",
    "no_such_host": "the registry host name does not resolve",
    "unreachable": "the registry could not be reached",
    "tls": "TLS/HTTPS problem talking to the registry",
    "bad_credentials": "the registry rejected the credentials that were sent",
    "anonymous_denied": "the registry requires credentials and none were sent",
    "unauthorized": "the registry answered 401 Unauthorized",
    "access_denied": "pull access denied: the account may not pull this repository, or it does not exist",
    "other": "the pull failed",
}


def classify(message: str) -> str:
    """Sort a CRI pull error (containerd's wording, as the kubelet reports it) into one of :data:`CAUSES`."""
    m = message
    if "no such host" in m:
        return "no_such_host"
    if re.search(r"connection refused|i/o timeout|deadline exceeded|no route to host|network is unreachable", m):
        return "unreachable"
    if re.search(r"x509:|tls:|server gave HTTP response to HTTPS client", m):
        return "tls"
    if "failed to fetch anonymous token" in m:
        return "anonymous_denied"
    if "failed to fetch oauth token" in m and re.search(r"\b40[13]\b", m):
        return "bad_credentials"
    if re.search(r"pull access denied|insufficient_scope|denied:|\b403 Forbidden\b", m):
        return "access_denied"
    if re.search(r"\b401 Unauthorized\b|unauthorized: authentication required", m):
        return "unauthorized"
    if re.search(r"code = NotFound|: not found$|manifest unknown", m):
        return "not_found"
    return "other"


def strip_pull_prefix(message: str) -> str:
    """The runtime's error without the kubelet's ``Failed to pull image "x": `` / back-off prefixes."""
    return _BACKOFF_PREFIX.sub("", _FAILED_PREFIX.sub("", message))


# --- credential expiry (from the password itself, never shown) ------------------------------------------------


def _b64json(text: str) -> Any:
    padded = text + "=" * (-len(text) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return json.loads(decode(padded))
        except (binascii.Error, ValueError):
            continue
    return None


def cluster_time(api: client.ApiClient) -> float:
    """Now on the cluster's clock, which is what token expiry is judged on.

    For the lab sandbox that is its own clock (``GET /lab/clock``), which may run faster than real time or have
    been fast-forwarded, and which stamps the tokens it issues; anything else (or a sandbox that does not
    answer) is a real cluster on this machine's wall clock.
    """
    host = urllib.parse.urlsplit(api.configuration.host or "").hostname
    if host not in ("127.0.0.1", "localhost", "::1"):  # the sandbox only ever listens on loopback
        return time.time()
    headers = {**api.default_headers, "Accept": "application/json"}
    for auth in api.configuration.auth_settings().values():
        if auth.get("in") == "header" and auth.get("value"):
            headers[auth["key"]] = auth["value"]
    try:  # the generated API does not know /lab: the ApiClient's REST client with its server, TLS and token
        resp = api.rest_client.request("GET", api.configuration.host + "/lab/clock", headers=headers,
                                       _request_timeout=5)
        data = resp.data if getattr(resp, "data", None) is not None else resp.read()
        if int(resp.status) != 200:
            return time.time()
        return time.time() + float(json.loads(data)["offsetSeconds"])
    except Exception:  # a real cluster on loopback (kind, a tunnel): 404, 403, or not JSON
        return time.time()


def expiry(username: str, password: str) -> tuple[float | None, str]:
    """(expiry epoch or None, what kind of credential it looks like) for tokens that carry their own expiry.

    ECR passwords are base64 JSON with ``expiration``; JWTs (ACR refresh tokens, many OIDC tokens) have ``exp``.
    """
    doc = _b64json(password) if username == "AWS" else None
    if isinstance(doc, dict) and isinstance(doc.get("expiration"), int | float):
        return float(doc["expiration"]), "an ECR token (aws ecr get-login-password, valid 12 hours)"
    parts = password.split(".")
    if len(parts) == 3 and all(parts):
        claims = _b64json(parts[1])
        if isinstance(claims, dict) and isinstance(claims.get("exp"), int | float):
            return float(claims["exp"]), "a JWT access token"
    hints = {
        "AWS": "an ECR token (aws ecr get-login-password, valid 12 hours)",
        "oauth2accesstoken": "a Google access token (gcloud auth print-access-token, valid 1 hour)",
        "00000000-0000-0000-0000-000000000000": "an ACR token (az acr login --expose-token, valid 3 hours)",
    }
    return None, hints.get(username, "")


# --- facts ----------------------------------------------------------------------------------------------------


@dataclass
class ContainerPull:
    name: str
    kind: str  # "containers" | "initContainers"
    image: str
    repository: str | None
    image_error: str
    credentials: list[kr.AuthConfig]
    state: Obj
    events: list[Obj]

    @property
    def field_path(self) -> str:
        return f"spec.{self.kind}{{{self.name}}}"

    @property
    def waiting(self) -> Obj:
        return self.state.get("waiting") or {}

    @property
    def waiting_reason(self) -> str:
        return str(self.waiting.get("reason") or "")

    @property
    def pull_error(self) -> str:
        """The runtime's text of the latest failed pull ('' when none is on record)."""
        for ev in reversed(self.events):
            if ev.get("reason") == "Failed" and str(ev.get("message", "")).startswith("Failed to pull image"):
                return strip_pull_prefix(ev["message"])
        if self.waiting_reason in ("ErrImagePull", "ImagePullBackOff"):
            return strip_pull_prefix(str(self.waiting.get("message") or ""))
        return ""

    @property
    def last_event(self) -> Obj | None:
        pulls = [e for e in self.events if e.get("reason") in PULL_REASONS]
        return pulls[-1] if pulls else None

    @property
    def pulled_from_cache(self) -> bool:
        return any("already present on machine" in str(e.get("message", "")) for e in self.events)

    @property
    def pull_failing(self) -> bool:
        if self.waiting_reason in PULL_WAITING:
            return True
        last = self.last_event
        return bool(last and last.get("reason") in ("Failed", "BackOff") and not self.state.get("running"))


@dataclass
class PullFacts:
    pod: Obj
    namespace: str
    events: list[Obj]
    service_account: str
    sa_pull_secrets: list[str] | None  # None: the ServiceAccount could not be read
    secret_refs: list[str]
    secrets: dict[str, Obj | None]  # None: not found in the pod's namespace
    secret_errors: dict[str, str] = field(default_factory=dict)  # e.g. forbidden
    keyring_error: str = ""
    containers: list[ContainerPull] = field(default_factory=list)
    now: float = field(default_factory=time.time)  # the cluster's clock when gathered (see cluster_time)

    @property
    def name(self) -> str:
        return self.pod["metadata"]["name"]

    def problems(self, secret_name: str) -> list[str]:
        secret = self.secrets.get(secret_name)
        return secret_problems(secret) if secret else []

    def usable(self, secret_name: str) -> bool:
        secret = self.secrets.get(secret_name)
        return bool(secret) and secret.get("type") in (SECRET_TYPE_DOCKER_CONFIG_JSON, SECRET_TYPE_DOCKERCFG)


def sort_events(events: list[Obj]) -> list[Obj]:
    """``kubectl describe`` order: by lastTimestamp, events without one (new-API singletons) first."""
    floor = datetime.min.replace(tzinfo=_kube.now().tzinfo)
    return sorted(events, key=lambda e: _kube.parse_time(e.get("lastTimestamp")) or floor)


def pod_events(api: client.ApiClient, pod: Obj) -> list[Obj]:
    """The events ``kubectl describe pod`` shows (same field selector: name, namespace, uid), describe-sorted."""
    meta = pod["metadata"]
    selector = f"involvedObject.name={meta['name']},involvedObject.namespace={meta['namespace']}"
    if meta.get("uid"):
        selector += f",involvedObject.uid={meta['uid']}"
    items = _kube.raw(_kube.core(api).list_namespaced_event, meta["namespace"], field_selector=selector)
    return sort_events(items.get("items") or [])


def _statuses(pod: Obj) -> dict[tuple[str, str], Obj]:
    status = pod.get("status") or {}
    out = {}
    for kind, key in (("initContainers", "initContainerStatuses"), ("containers", "containerStatuses")):
        for cs in status.get(key) or []:
            out[(kind, cs.get("name", ""))] = cs
    return out


def gather(api: client.ApiClient, pod_name: str, namespace: str) -> PullFacts:
    """Read the pod, its events, ServiceAccount and pull secrets (ApiException 404 when the pod is missing)."""
    v1 = _kube.core(api)
    pod = _kube.raw(v1.read_namespaced_pod, pod_name, namespace)
    spec = pod.get("spec") or {}
    events = pod_events(api, pod)
    sa_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    try:
        sa = _kube.raw(v1.read_namespaced_service_account, sa_name, namespace)
        sa_secrets: list[str] | None = [r.get("name", "") for r in sa.get("imagePullSecrets") or []]
    except _kube.ApiException:
        sa_secrets = None
    refs = kr.image_pull_secret_names(pod)
    secrets: dict[str, Obj | None] = {}
    errors: dict[str, str] = {}
    for name in refs:
        try:
            secrets[name] = _kube.raw(v1.read_namespaced_secret, name, namespace)
        except _kube.ApiException as e:
            secrets[name] = None
            if e.status != 404:
                errors[name] = _kube.server_error_text(e)
    facts = PullFacts(pod, namespace, events, sa_name, sa_secrets, refs, secrets, errors, now=cluster_time(api))
    present = [s for n in refs if (s := secrets.get(n)) is not None]
    keyring: kr.Keyring | None = None
    try:
        keyring = kr.make_docker_keyring(present)
    except kr.DockerConfigError as e:
        facts.keyring_error = str(e)
    statuses = _statuses(pod)
    for kind in ("initContainers", "containers"):
        for c in spec.get(kind) or []:
            name, image = c.get("name", ""), c.get("image", "")
            try:
                repo, image_error = repo_to_pull(image), ""
            except (InvalidImageNameError, InvalidReferenceError, ValueError) as e:
                repo, image_error = None, str(e)
            creds = keyring.lookup(repo) if keyring is not None and repo else []
            fp = f"spec.{kind}{{{name}}}"
            mine = [e for e in events if (e.get("involvedObject") or {}).get("fieldPath") == fp]
            cs = statuses.get((kind, name)) or {}
            facts.containers.append(ContainerPull(name, kind, image, repo, image_error, creds,
                                                  cs.get("state") or {}, mine))
    return facts


def expired_credentials(creds: list[kr.AuthConfig], now: float | None = None) -> list[tuple[kr.AuthConfig, float]]:
    """Credentials whose token says it has expired at ``now`` (the cluster's clock; default: the wall clock),
    with the expiry time."""
    now = time.time() if now is None else now
    out = []
    for c in creds:
        when, _ = expiry(c.username, c.password)
        if when is not None and when < now:
            out.append((c, when))
    return out


def registry_host(repository: str) -> str:
    """``docker.io/library/nginx`` -> ``docker.io``."""
    return repository.split("/", 1)[0]


def key_mismatch(key: str, repository: str) -> str:
    """Why the keyring key ``key`` does not match ``repository``, in one sentence."""
    host = registry_host(repository)
    key_host, _, key_path = key.partition("/")
    if host == "docker.io" and key_host in ("registry-1.docker.io", "hub.docker.com", "registry.hub.docker.com"):
        return (f"{key_host} is not how the kubelet names Docker Hub: it only matches docker.io, index.docker.io "
                "or https://index.docker.io/v1/")
    name, _, port = key_host.partition(":")
    img_name, _, img_port = host.partition(":")
    if name == img_name and port != img_port:
        return f"the port differs ({key_host} vs {host}): ports must match exactly"
    if key_host == host and key_path and not repository.split("/", 1)[-1].startswith(key_path):
        return f"the entry is limited to the path /{key_path}, which {repository} is not under"
    if key_host.count(".") != host.count("."):
        return f"{key_host} and {host} are different hosts (the kubelet compares host names label by label)"
    return f"{key_host} is not {host}"


def entry_keys(facts: PullFacts) -> list[tuple[str, str, str]]:
    """(secret, registry as written, kubelet key) of every entry of the pod's usable secrets."""
    out = []
    for name in facts.secret_refs:
        secret = facts.secrets.get(name)
        if not secret or not facts.usable(name):
            continue
        raw = (secret.get("data") or {}).get(".dockerconfigjson") or (secret.get("data") or {}).get(".dockercfg")
        try:
            content = base64.b64decode(raw or "")
            config = (kr.parse_docker_config_json(content) if secret.get("type") == SECRET_TYPE_DOCKER_CONFIG_JSON
                      else kr.parse_docker_config(content))
        except (kr.DockerConfigError, binascii.Error, ValueError):
            continue
        for registry in config:
            key = kr.registry_key(registry)
            if key is not None:
                out.append((name, registry, key))
    return out


def describe_state(state: Mapping[str, Any]) -> str:
    if "running" in state and state["running"] is not None:
        return "Running"
    if state.get("waiting") is not None:
        return f"Waiting: {state['waiting'].get('reason') or ''}".rstrip(": ")
    if state.get("terminated") is not None:
        term = state["terminated"]
        return f"Terminated: {term.get('reason') or 'exit ' + str(term.get('exitCode'))}"
    return "not started"
