"""Pods from the notebook: ``kubectl get pods`` / ``describe`` as tables, waiting with a progress bar, and why an
image pull fails.

* :func:`pods_table` - NAME / READY / STATUS / RESTARTS / AGE exactly as kubectl prints them (the API server's
  own Table), plus the waiting message kubectl only shows with ``-o yaml``.
* :func:`pod_events_table` - the Events section of ``kubectl describe pod``, in its order.
* :func:`pull_explain` - per container: which pull secrets the pod really has, which registry entry the kubelet
  tries first, or why none matches.
* :func:`wait_for_pod` - wait for Ready (or ImagePullBackOff, ...) and end with a diagnosis, never a traceback.
* :func:`diagnose` - Lab 03's "Common issues" checked against the pod's events and secrets.

All of it uses the official client with the kubeconfig only, so it behaves the same on the sandbox and on a real
cluster. No password ever appears in a table or message.
"""

from __future__ import annotations

import difflib
import html
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from . import _kube, _pulls
from ._display import FAIL, OK, WARN, LabTable, in_notebook, lab_table

__all__ = [
    "EVENT_COLUMNS",
    "EXPLAIN_COLUMNS",
    "POD_COLUMNS",
    "Diagnosis",
    "Finding",
    "WaitResult",
    "diagnose",
    "pod_events_table",
    "pods_table",
    "pull_explain",
    "wait_for_pod",
]

POD_COLUMNS = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "MESSAGE"]
EVENT_COLUMNS = ["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]
EXPLAIN_COLUMNS = ["container", "image", "repository", "pull secrets", "credentials (kubelet order)",
                   "why none matched", "last pull event", "state"]
_TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

Obj = dict[str, Any]


def _ns(namespace: str | None) -> str:
    return namespace or _kube.current_namespace()


# --- kubectl get pods -----------------------------------------------------------------------------------------


def _waiting_message(pod: Obj) -> str:
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            state = cs.get("state") or {}
            for what in ("waiting", "terminated"):
                msg = (state.get(what) or {}).get("message")
                if msg:
                    return f"{cs.get('name')}: {msg}"
    return str(status.get("message") or "")


def pods_table(api: client.ApiClient, namespace: str | None = None, selector: str | None = None) -> LabTable:
    """``kubectl get pods [-l selector]`` as a table, plus each pod's waiting/terminated message.

    Args:
        api: ApiClient from :func:`labhelpers.connect`.
        namespace: default: the kubeconfig's current namespace.
        selector: a label selector such as ``app=private-app``.

    Returns:
        Columns NAME, READY, STATUS (the waiting reason such as ImagePullBackOff), RESTARTS, AGE and MESSAGE.
    """
    ns = _ns(namespace)
    v1 = _kube.core(api)
    kwargs = {"label_selector": selector} if selector else {}
    pods = {p["metadata"]["name"]: p for p in _kube.raw(v1.list_namespaced_pod, ns, **kwargs).get("items") or []}
    rows = []
    try:
        table = _kube.raw(v1.list_namespaced_pod, ns, _headers={"Accept": _TABLE_ACCEPT}, **kwargs)
    except (TypeError, _kube.ApiException):  # an old client without _headers
        table = {}
    if table.get("kind") == "Table":
        names = [c["name"].upper() for c in table.get("columnDefinitions") or []]
        for row in table.get("rows") or []:
            cells = dict(zip(names, row.get("cells") or [], strict=False))
            name = str(cells.get("NAME", ""))
            rows.append([name, *(str(cells.get(c, "")) for c in POD_COLUMNS[1:5]),
                         _waiting_message(pods.get(name, {}))])
    else:
        at = _kube.now()
        for name, pod in pods.items():
            ready, status, restarts = _kube.pod_status(pod, at)
            rows.append([name, ready, status, restarts, _kube.age(pod["metadata"].get("creationTimestamp"), at),
                         _waiting_message(pod)])
    notes = [] if rows else [f"No resources found in {ns} namespace."]
    label = f" -l {selector}" if selector else ""
    return lab_table(rows, POD_COLUMNS, caption=f"kubectl get pods -n {ns}{label}", notes=notes)


# --- kubectl describe pod: Events -----------------------------------------------------------------------------


def _event_age(ev: Obj, at: datetime) -> str:
    first = _kube.age(ev.get("eventTime"), at) if _kube.parse_time(ev.get("eventTime")) else \
        _kube.age(ev.get("firstTimestamp"), at)
    series = ev.get("series")
    if series:
        return f"{_kube.age(series.get('lastObservedTime'), at)} (x{series.get('count')} over {first})"
    if (ev.get("count") or 0) > 1:
        return f"{_kube.age(ev.get('lastTimestamp'), at)} (x{ev['count']} over {first})"
    return first


def event_rows(events: Iterable[Obj], *, field_path: bool = False) -> list[list[str]]:
    at = _kube.now()
    rows = []
    for ev in events:
        source = (ev.get("source") or {}).get("component") or ev.get("reportingComponent") or ""
        message = str(ev.get("message") or "").strip()
        path = (ev.get("involvedObject") or {}).get("fieldPath")
        if field_path and path:
            message = f"{path}: {message}"
        rows.append([ev.get("type") or "", ev.get("reason") or "", _event_age(ev, at), source, message])
    return rows


def pod_events_table(api: client.ApiClient, pod: str, namespace: str | None = None, *,
                     field_path: bool = False) -> LabTable:
    """The Events of ``kubectl describe pod``: TYPE, REASON, AGE, FROM, MESSAGE in describe's order.

    Args:
        api: ApiClient.
        pod: pod name.
        namespace: default: the kubeconfig's current namespace.
        field_path: prefix messages with the container's ``spec.containers{name}`` as kubectl 1.35+ does.
    """
    ns = _ns(namespace)
    try:
        obj = _kube.raw(_kube.core(api).read_namespaced_pod, pod, ns)
    except _kube.ApiException as e:
        return lab_table([], EVENT_COLUMNS, caption=f"events of pod/{pod}", notes=[_kube.server_error_text(e)])
    events = _pulls.pod_events(api, obj)
    return lab_table(event_rows(events, field_path=field_path), EVENT_COLUMNS, caption=f"events of pod/{pod}",
                     notes=[] if events else ["Events: <none>"])


# --- pull_explain ---------------------------------------------------------------------------------------------


def _secret_cells(facts: _pulls.PullFacts) -> str:
    if not facts.secret_refs:
        return "(none)"
    lines = []
    for name in facts.secret_refs:
        secret = facts.secrets.get(name)
        if secret is None:
            lines.append(f"{FAIL} {name}: {facts.secret_errors.get(name) or 'not found in ' + facts.namespace}")
        elif not facts.usable(name):
            lines.append(f"{FAIL} {name}: type {secret.get('type')}, ignored by the kubelet")
        elif problems := facts.problems(name):
            lines.append(f"{WARN} {name}: {problems[0]}")
        else:
            lines.append(f"{OK} {name}")
    if facts.sa_pull_secrets and facts.sa_pull_secrets == facts.secret_refs:
        lines.append(f"(as on ServiceAccount {facts.service_account}: copied in at admission)")
    return "\n".join(lines)


def _why_none(facts: _pulls.PullFacts, c: _pulls.ContainerPull) -> str:
    if c.image_error:
        return f"invalid image name: {c.image_error}"
    if c.credentials:
        return ""
    if facts.keyring_error:
        return f"a pull secret cannot be decoded, so the kubelet fails the pull: {facts.keyring_error}"
    if not facts.secret_refs:
        sa = facts.service_account
        if facts.sa_pull_secrets:
            return (f"the pod has no imagePullSecrets although ServiceAccount {sa} now lists "
                    f"{', '.join(facts.sa_pull_secrets)}: they are copied in only when a pod is created, so "
                    "this pod (older than that change) pulls anonymously")
        return f"the pod has no imagePullSecrets (ServiceAccount {sa} adds none): the pull is anonymous"
    if not any(facts.secrets.get(n) for n in facts.secret_refs):
        return "none of the pod's pull secrets exists: the pull is anonymous"
    keys = _pulls.entry_keys(facts)
    if not keys:
        return "the pod's secrets hold no usable registry entry (wrong type or format): the pull is anonymous"
    assert c.repository is not None
    reasons = [f"{secret}/{registry}: {_pulls.key_mismatch(key, c.repository)}" for secret, registry, key in keys]
    return f"no entry matches {_pulls.registry_host(c.repository)}: " + "; ".join(reasons)


def _cred_cells(creds: list[Any]) -> str:
    return "\n".join(f"{i}. {c.source} -> {c.server} (user {c.username})" for i, c in enumerate(creds, 1))


def _event_cell(ev: Obj | None) -> str:
    if not ev:
        return ""
    last, _, count = _event_age(ev, _kube.now()).partition(" ")
    return f"{ev.get('reason')} {last} ago{' ' + count if count else ''}: {str(ev.get('message') or '').strip()}"


def pull_explain(api: client.ApiClient, pod: str, namespace: str | None = None) -> LabTable:
    """Per container: the image, the repository the kubelet looks up, the pod's pull secrets (after ServiceAccount
    admission) and whether each exists, the credentials the kubelet tries in order, or why none matched, and the
    last pull event and state.

    Args:
        api: ApiClient.
        pod: pod name.
        namespace: default: the kubeconfig's current namespace.
    """
    ns = _ns(namespace)
    try:
        facts = _pulls.gather(api, pod, ns)
    except _kube.ApiException as e:
        return lab_table([], EXPLAIN_COLUMNS, caption=f"image pulls of pod/{pod}",
                         notes=[_kube.server_error_text(e)])
    secrets = _secret_cells(facts)
    rows = []
    for c in facts.containers:
        rows.append([c.name, c.image, c.repository or "", secrets, _cred_cells(c.credentials),
                     _why_none(facts, c), _event_cell(c.last_event), _pulls.describe_state(c.state)])
    notes = ["The kubelet tries the credentials in this order and stops at the first pull that succeeds; with "
             "none it pulls anonymously."]
    return lab_table(rows, EXPLAIN_COLUMNS, caption=f"image pulls of pod/{pod} (namespace {ns})", notes=notes)


# --- diagnose -------------------------------------------------------------------------------------------------

SECRET_MISSING = "Secret doesn't exist"
WRONG_REGISTRY = "Wrong registry URL"
EXPIRED = "Expired credentials"
WRONG_CREDENTIALS = "Wrong or expired credentials"
WRONG_FORMAT = "Wrong secret format"
OTHER_NAMESPACE = "Secret in different namespace"
NO_SECRET = "No pull secret"
ACCESS_DENIED = "No access to repository"
IMAGE_NOT_FOUND = "Image not found"
INVALID_IMAGE = "Invalid image name"
UNREACHABLE = "Registry unreachable"
NEVER_PULL = "Image not on the node (pull policy Never)"
POD_MISSING = "Pod not found"
CACHED = "Credentials not checked"
API_ERROR = "Cannot read the cluster"


@dataclass
class Finding:
    """One thing wrong (or worth knowing) about a pod's image pulls."""

    issue: str
    what: str
    fix: str
    evidence: list[str] = field(default_factory=list)
    container: str = ""
    severity: str = "error"  # error | warning | info

    @property
    def glyph(self) -> str:
        return {"error": FAIL, "warning": WARN}.get(self.severity, OK)


@dataclass
class Diagnosis:
    """What is wrong with a pod's image pulls and how to fix it; ``bool(d)`` is True when nothing is wrong."""

    pod: str
    namespace: str
    status: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def issues(self) -> list[str]:
        """The issue names found (e.g. ``"Secret doesn't exist"``), errors first, without repeats."""
        ordered = sorted(self.findings, key=lambda f: f.severity != "error")
        return list(dict.fromkeys(f.issue for f in ordered))

    @property
    def message(self) -> str:
        head = f"pod/{self.pod} ({self.namespace}): {self.status}"
        if not self.findings:
            return f"{OK} {head}: no image-pull problem found"
        lines = [f"{OK if self.ok else FAIL} {head}"]
        for f in self.findings:
            where = f" [{f.container}]" if f.container else ""
            lines.append(f"{f.glyph} {f.issue}{where}: {f.what}")
            if f.evidence and f.severity == "error":
                lines.append(f"   evidence: {f.evidence[0]}")
            if f.fix:
                lines.append(f"   how to fix: {f.fix}")
        return "\n".join(lines)

    @property
    def table(self) -> LabTable:
        rows = [[f"{f.glyph} {f.issue}", f.container, f.what, "\n".join(f.evidence), f.fix] for f in self.findings]
        return lab_table(rows, ["issue", "container", "what is wrong", "evidence", "how to fix"],
                         caption=f"diagnosis of pod/{self.pod}")

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self, header: bool = True) -> str:
        first = f"<p><b>{html.escape(self.message.splitlines()[0])}</b></p>" if header else ""
        return first + (self.table._repr_html_() if self.findings else "")


def _secret_cmd(name: str, ns: str, server: str, user: str = "<user>") -> str:
    return (f"kubectl create secret docker-registry {name} -n {ns} --docker-server={server} "
            f"--docker-username={user} --docker-password=<password>")


def _other_namespaces(api: client.ApiClient, name: str, ns: str) -> list[str] | None:
    try:
        found = _kube.raw(_kube.core(api).list_secret_for_all_namespaces, field_selector=f"metadata.name={name}")
    except _kube.ApiException:
        return None
    return sorted({s["metadata"]["namespace"] for s in found.get("items") or []} - {ns})


def _similar_secrets(api: client.ApiClient, name: str, ns: str) -> list[str]:
    try:
        items = _kube.raw(_kube.core(api).list_namespaced_secret, ns).get("items") or []
    except _kube.ApiException:
        return []
    names = [s["metadata"]["name"] for s in items if s.get("type") in
             (_pulls.SECRET_TYPE_DOCKER_CONFIG_JSON, _pulls.SECRET_TYPE_DOCKERCFG)]
    return difflib.get_close_matches(name, names, n=2, cutoff=0.5) or names[:3]


def _secret_findings(api: client.ApiClient, facts: _pulls.PullFacts) -> list[Finding]:
    out = []
    ns = facts.namespace
    retrieve = [e["message"] for e in facts.events if e.get("reason") == "FailedToRetrieveImagePullSecret"]
    for name in facts.secret_refs:
        secret = facts.secrets.get(name)
        if secret is None and name in facts.secret_errors:
            out.append(Finding(API_ERROR, f"secret {name} cannot be read: {facts.secret_errors[name]}",
                               "ask for read access to secrets in this namespace", severity="warning"))
        elif secret is None:
            elsewhere = _other_namespaces(api, name, ns)
            evidence = [f'kubectl get secret {name} -n {ns}: secrets "{name}" not found', *retrieve[-1:]]
            if elsewhere:
                out.append(Finding(
                    OTHER_NAMESPACE,
                    f"secret {name} exists in namespace {', '.join(elsewhere)} but the pod runs in {ns}; "
                    "a pod can only use secrets from its own namespace",
                    f"copy it: kubectl get secret {name} -n {elsewhere[0]} -o json | jq 'del(.metadata.namespace,"
                    f".metadata.uid,.metadata.resourceVersion,.metadata.creationTimestamp)' | kubectl apply -n {ns}"
                    " -f -  (or create it again with -n " + ns + ")",
                    [*evidence, f"found in: {', '.join(elsewhere)}"]))
            else:
                similar = _similar_secrets(api, name, ns)
                hint = f" Existing registry secrets here: {', '.join(similar)}." if similar else ""
                out.append(Finding(
                    SECRET_MISSING, f"the pod names imagePullSecret {name}, which does not exist in {ns}.{hint}",
                    f"create it ({_secret_cmd(name, ns, '<registry>')}) or fix the name in the pod's "
                    "imagePullSecrets (or its ServiceAccount's)", evidence))
        elif not facts.usable(name):
            out.append(Finding(
                WRONG_FORMAT, f"secret {name} has type {secret.get('type') or 'Opaque'}; the kubelet only reads "
                f"{_pulls.SECRET_TYPE_DOCKER_CONFIG_JSON} (or {_pulls.SECRET_TYPE_DOCKERCFG}) secrets",
                f"recreate it with --type=kubernetes.io/dockerconfigjson (kubectl delete secret {name} -n {ns}; "
                f"kubectl create secret generic {name} --from-file=.dockerconfigjson=config.json "
                f"--type=kubernetes.io/dockerconfigjson -n {ns})", [f"type: {secret.get('type')}"]))
        elif problems := facts.problems(name):
            out.append(Finding(WRONG_FORMAT, f"secret {name}: {problems[0]}",
                               "fix the JSON: it must be {\"auths\": {\"REGISTRY\": {\"auth\": base64(user:pass)}}}",
                               problems))
    if facts.keyring_error:
        out.append(Finding(WRONG_FORMAT, f"the kubelet cannot decode a pull secret: {facts.keyring_error}",
                           "recreate the secret with kubectl create secret docker-registry", [facts.keyring_error]))
    return out


def _expired_or_wrong(c: _pulls.ContainerPull, err: str, ns: str, now: float | None = None) -> Finding:
    """``now``: the cluster's clock (the sandbox's may be ahead of this machine's), which tokens expire on."""
    used = c.credentials
    who = ", ".join(f"{a.source}/{a.server} (user {a.username})" for a in used)
    expired = _pulls.expired_credentials(used, now)
    host = _pulls.registry_host(c.repository or "")
    if expired:
        a, when = expired[0]
        stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC")
        _, kind = _pulls.expiry(a.username, a.password)
        return Finding(EXPIRED, f"the password of {a.source}/{a.server} is {kind or 'a token'} that expired at "
                       f"{stamp}", f"get a fresh token and recreate secret {a.source} (for ECR: a CronJob that "
                       "refreshes it every few hours)", [err], c.name)
    _, kind = _pulls.expiry(used[0].username, used[0].password)
    extra = f"; the password looks like {kind}, which expires" if kind else ""
    return Finding(WRONG_CREDENTIALS, f"{host} rejected the credentials the kubelet sent: {who}. The password is "
                   f"wrong or has expired{extra}",
                   f"recreate secret {used[0].source} with the current password "
                   f"({_secret_cmd(used[0].source, ns, used[0].server, used[0].username)} --dry-run=client -o yaml | "
                   "kubectl apply -f -); the kubelet picks it up on its next retry", [err], c.name)


def _container_findings(facts: _pulls.PullFacts, c: _pulls.ContainerPull, have: set[str]) -> list[Finding]:
    reason, err = c.waiting_reason, c.pull_error
    ns = facts.namespace
    if reason == "InvalidImageName" or c.image_error:
        msg = str(c.waiting.get("message") or c.image_error)
        return [Finding(INVALID_IMAGE, f"{c.image!r} is not a valid image reference: {msg}",
                        "write it as [registry/]repository[:tag] without https:// (e.g. myregistry.com/app3:v1.0)",
                        [msg], c.name)]
    if reason == "ErrImageNeverPull":
        return [Finding(NEVER_PULL, str(c.waiting.get("message") or ""),
                        "use imagePullPolicy: IfNotPresent or Always", [], c.name)]
    if not c.pull_failing or not err:
        if c.pulled_from_cache and facts.secret_refs and have:
            return [Finding(CACHED, f"{c.image} was already on the node, so the kubelet did not use the pull "
                            "secret: it is not known whether its credentials work",
                            "set imagePullPolicy: Always to make the kubelet pull (and check credentials) every time",
                            [], c.name, "warning")]
        return []
    cause = _pulls.classify(err)
    host = _pulls.registry_host(c.repository or "")
    evidence = [err]
    if cause == "not_found":
        return [Finding(IMAGE_NOT_FOUND, f"{host} has no {c.repository} with that tag or digest",
                        "check the repository name and tag (list tags with the registry's UI, crane ls or skopeo)",
                        evidence, c.name)]
    if cause in ("no_such_host", "unreachable", "tls"):
        return [Finding(UNREACHABLE, f"{_pulls.CAUSES[cause]} ({host})",
                        "check the registry part of the image name and that the node can reach it "
                        "(Exercise 16: kubectl run registry-debug --image=curlimages/curl ...)", evidence, c.name)]
    if not c.credentials:
        if have & {SECRET_MISSING, OTHER_NAMESPACE, WRONG_FORMAT}:
            return [Finding(NO_SECRET,
                            f"because of the secret problem above, {c.image} was pulled without credentials and "
                            f"{host} refused: {_pulls.CAUSES[cause]}", "fix the secret problem above", evidence,
                            c.name, "info")]
        keys = _pulls.entry_keys(facts)
        if keys:
            why = "; ".join(f"{s}/{r}: {_pulls.key_mismatch(k, c.repository or '')}" for s, r, k in keys)
            return [Finding(WRONG_REGISTRY, f"the image is on {host} but no entry of the pod's pull secrets matches "
                            f"it ({why}), so the kubelet sent no credentials",
                            f"recreate the secret with --docker-server={host} (or add an auths entry for {host})",
                            [*evidence, *(f"entry {r} of {s} -> key {k}" for s, r, k in keys)], c.name)]
        sa = facts.service_account
        if facts.sa_pull_secrets and not facts.secret_refs:
            return [Finding(NO_SECRET, f"ServiceAccount {sa} lists {', '.join(facts.sa_pull_secrets)}, but the pod "
                            "was created before that: admission copies a ServiceAccount's imagePullSecrets only "
                            "into new pods, so this one pulled anonymously",
                            f"recreate the pod (kubectl delete pod {facts.name} -n {ns} and apply it again, or "
                            "kubectl rollout restart deployment/<name>)", evidence, c.name)]
        return [Finding(NO_SECRET, f"the pod has no usable imagePullSecrets (ServiceAccount {sa} adds none), so "
                        f"{host} was asked anonymously and refused: {_pulls.CAUSES[cause]}",
                        f"add imagePullSecrets to the pod spec, or kubectl patch serviceaccount {sa} -n {ns} -p "
                        "'{\"imagePullSecrets\": [{\"name\": \"<secret>\"}]}' and recreate the pod",
                        evidence, c.name)]
    # ECR refuses an expired token with 403 Forbidden: the token's own expiry, on the cluster's clock, tells
    if cause in ("bad_credentials", "unauthorized") or \
            cause == "access_denied" and _pulls.expired_credentials(c.credentials, facts.now):
        return [_expired_or_wrong(c, err, ns, facts.now)]
    if cause == "access_denied":
        who = ", ".join(f"{a.source}/{a.server} (user {a.username})" for a in c.credentials)
        return [Finding(ACCESS_DENIED, f"{host} accepted no pull of {c.repository} with {who}: the account has no "
                        "pull access to that repository, or the repository does not exist",
                        "check the repository name, or use an account with pull access to it", evidence, c.name)]
    return [Finding("Image pull failed", err, "read the error; kubectl describe pod shows the same text",
                    evidence, c.name)]


def diagnose(api: client.ApiClient, pod: str, namespace: str | None = None) -> Diagnosis:
    """Check a pod against Lab 03's common image-pull issues, with the evidence (events, secrets) for each.

    Issues: secret doesn't exist, wrong registry URL, expired (or wrong) credentials, wrong secret format, secret in
    a different namespace; also no pull secret at all, no access, image not found, invalid image name, registry
    unreachable.

    Returns:
        A :class:`Diagnosis` (``.ok``, ``.issues``, ``.message``, ``.table``); it never raises for cluster errors.
    """
    ns = _ns(namespace)
    try:
        facts = _pulls.gather(api, pod, ns)
    except _kube.ApiException as e:
        if e.status == 404:
            return Diagnosis(pod, ns, "NotFound", [Finding(
                POD_MISSING, f"there is no pod {pod} in namespace {ns}",
                f"check the name and namespace: kubectl get pods -n {ns}", [_kube.server_error_text(e)])])
        return Diagnosis(pod, ns, "unknown", [Finding(API_ERROR, _kube.server_error_text(e),
                                                      "check your kubeconfig and permissions")])
    except Exception as e:  # the API server went away, TLS, ...
        return Diagnosis(pod, ns, "unknown", [Finding(API_ERROR, f"{type(e).__name__}: {e}",
                                                      "is the cluster up? (labctl sandbox status)")])
    _, status, _ = _kube.pod_status(facts.pod, _kube.now())
    findings = _secret_findings(api, facts)
    have = {f.issue for f in findings}
    for c in facts.containers:
        findings.extend(_container_findings(facts, c, have))
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in (facts.pod.get("status") or {}).get("conditions") or [])
    if ready:  # the secret problems did not stop this pod: say so, but they are not errors for it
        for f in findings:
            if f.severity == "error":
                f.severity = "warning"
    return Diagnosis(pod, ns, status, findings)


# --- wait_for_pod ---------------------------------------------------------------------------------------------

_HOPELESS = {"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CrashLoopBackOff",
             "CreateContainerConfigError", "CreateContainerError", "Failed", "Error"}


def _reasons(pod: Obj) -> set[str]:
    status = pod.get("status") or {}
    out = {str(status.get("phase") or "")}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            for what in ("waiting", "terminated"):
                r = ((cs.get("state") or {}).get(what) or {}).get("reason")
                if r:
                    out.add(r)
    return out


def _is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _reached(pod: Obj | None, status: str, until: str | Callable[[Obj], bool]) -> bool:
    if callable(until):
        return pod is not None and bool(until(pod))
    if until in ("Deleted", "Gone"):
        return pod is None
    if pod is None:
        return False
    if until == "Ready":
        return _is_ready(pod)
    return until == status or until in _reasons(pod)


@dataclass
class WaitResult:
    """How :func:`wait_for_pod` ended; ``bool(result)`` is True when the pod reached the wanted state."""

    ok: bool
    pod: str
    namespace: str
    until: str
    status: str
    elapsed: float
    diagnosis: Diagnosis | None = None
    reason: str = ""
    _shown: bool = field(default=False, repr=False)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def message(self) -> str:
        if self.ok:
            return f"{OK} pod/{self.pod} is {self.until} ({self.status}) after {self.elapsed:.1f}s"
        head = f"{FAIL} pod/{self.pod} did not become {self.until}: {self.reason or self.status}"
        return head + (f"\n{self.diagnosis.message}" if self.diagnosis is not None else "")

    @property
    def table(self) -> LabTable | None:
        return self.diagnosis.table if self.diagnosis is not None else None

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        first = self.message.splitlines()[0]
        body = f"<p><b>{html.escape(first)}</b></p>"
        if self.diagnosis is not None:
            body += self.diagnosis._repr_html_(header=False)
        return body

    def _ipython_display_(self) -> None:
        if self._shown:
            return
        from IPython.display import HTML, display

        display(HTML(self._repr_html_()))


class _Progress:
    """A progress bar: ipywidgets in a notebook, a text bar on a terminal, one line per change otherwise."""

    def __init__(self, label: str, timeout: float, enabled: bool) -> None:
        self.label, self.timeout, self.enabled = label, timeout, enabled
        self.widget: Any = None
        self.last = ""
        self.tty = sys.stdout.isatty()
        if enabled and in_notebook():
            try:
                import ipywidgets as w
                from IPython.display import display

                self.bar = w.FloatProgress(value=0, min=0, max=max(timeout, 0.1), description="waiting")
                self.text = w.HTML(value=html.escape(label))
                self.widget = w.HBox([self.bar, self.text])
                display(self.widget)
            except Exception:
                self.widget = None

    def update(self, elapsed: float, status: str) -> None:
        if not self.enabled:
            return
        text = f"{self.label}: {status} ({elapsed:.0f}s/{self.timeout:.0f}s)"
        if self.widget is not None:
            self.bar.value = min(elapsed, self.timeout)
            self.text.value = html.escape(text)
        elif self.tty:
            filled = int(20 * min(elapsed / self.timeout, 1)) if self.timeout else 20
            print(f"\r[{'#' * filled}{'-' * (20 - filled)}] {text}\033[K", end="", flush=True)
        elif status != self.last:
            print(f"{self.label}: {status} ({elapsed:.0f}s)", flush=True)
        self.last = status

    def done(self, ok: bool, text: str) -> None:
        if not self.enabled:
            return
        if self.widget is not None:
            self.bar.bar_style = "success" if ok else "danger"
            self.bar.value = self.bar.max if ok else self.bar.value
            self.text.value = html.escape(text)
        elif self.tty:
            print()


def wait_for_pod(api: client.ApiClient, name: str | None = None, namespace: str | None = None, *,
                 until: str | Callable[[Obj], bool] = "Ready", timeout: float = 60, progress: bool = True,
                 selector: str | None = None, fail_fast: bool = True, interval: float = 0.5) -> WaitResult:
    """Wait until a pod is Ready (or reaches ``until``), showing progress, and diagnose it if it does not.

    Args:
        api: ApiClient.
        name: pod name; or leave None and give ``selector`` to follow the newest matching pod (a Deployment's).
        namespace: default: the kubeconfig's current namespace.
        until: ``"Ready"``, a phase (``"Running"``, ``"Succeeded"``), a STATUS or waiting reason
            (``"ImagePullBackOff"``, ``"ErrImagePull"``, ``"Completed"``), ``"Deleted"``, or a predicate on the pod
            dict.
        timeout: seconds.
        progress: show a progress bar (ipywidgets in a notebook, text otherwise) and the outcome.
        selector: label selector used when ``name`` is None.
        fail_fast: when waiting for Ready/Running, stop as soon as the pod is in a state it will not leave by
            itself (ImagePullBackOff, InvalidImageName, CrashLoopBackOff, ...).
        interval: seconds between polls.

    Returns:
        A :class:`WaitResult`; on failure its ``diagnosis`` says what is wrong and how to fix it. Never raises for
        cluster errors or timeouts.
    """
    ns = _ns(namespace)
    target = name or (f"-l {selector}" if selector else "")
    wanted = until if isinstance(until, str) else getattr(until, "__name__", "the condition")
    bar = _Progress(f"pod/{target} -> {wanted}", timeout, progress)
    v1 = _kube.core(api)
    start = time.monotonic()
    status, reason, pod_name, pod = "not found", "", name or "", None
    ok = False
    try:
        while True:
            elapsed = time.monotonic() - start
            try:
                pod = _find(v1, name, ns, selector)
            except _kube.ApiException as e:
                if e.status not in (404, 429, 500, 503):
                    reason = _kube.server_error_text(e)
                    break
                pod = None
            if pod is not None:
                pod_name = pod["metadata"]["name"]
                _, status, _ = _kube.pod_status(pod, _kube.now())
            else:
                status = "not found"
            if _reached(pod, status, until):
                ok = True
                break
            if fail_fast and until in ("Ready", "Running") and pod is not None:
                stuck = (_reasons(pod) | {status}) & _HOPELESS
                if stuck:
                    reason = f"{status} (stopped early: the pod will not become {until} by itself)"
                    break
            if elapsed >= timeout:
                reason = f"timed out after {timeout:.0f}s in {status}"
                break
            bar.update(elapsed, status)
            time.sleep(interval)
    except KeyboardInterrupt:
        reason = f"interrupted in {status}"
    except Exception as e:  # connection refused, TLS ...
        reason = f"{type(e).__name__}: {e}"
    elapsed = time.monotonic() - start
    result = WaitResult(ok, pod_name or target, ns, str(wanted), status, elapsed, reason=reason)
    if not ok:
        result.diagnosis = diagnose(api, pod_name, ns) if pod_name else Diagnosis(
            target, ns, "NotFound", [Finding(POD_MISSING, f"no pod matches {target} in {ns}",
                                             f"kubectl get pods -n {ns} --show-labels")])
    bar.done(ok, result.message.splitlines()[0])
    if progress:
        _announce(result)
    return result


def _find(v1: client.CoreV1Api, name: str | None, ns: str, selector: str | None) -> Obj | None:
    if name:
        return _kube.raw(v1.read_namespaced_pod, name, ns)
    items = _kube.raw(v1.list_namespaced_pod, ns, label_selector=selector or "").get("items") or []
    items.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
    return items[-1] if items else None


def _announce(result: WaitResult) -> None:
    if in_notebook():
        from IPython.display import HTML, display

        display(HTML(result._repr_html_()))
    else:
        print(result.message)
    result._shown = True

