"""Capture real kubectl protobuf request bodies as test fixtures for the sandbox's protobuf decoder.

kubectl 1.32+ sends ``application/vnd.kubernetes.protobuf`` bodies from its typed clientsets. This script starts
a tiny recording API server on 127.0.0.1 (just enough discovery for kubectl to proceed), runs each command in
:data:`CASES` against it with a fresh ``HOME`` (kubectl caches discovery there), and writes

* ``<name>.bin``  - the request body kubectl POSTed (protobuf envelope), and
* ``<name>.json`` - the JSON form of the same object: ``kubectl <same command> --dry-run=client -o json``, or,
  for commands without a dry run (``auth can-i``, ``debug``), the JSON body kubectl 1.31 sends for them,

plus ``manifest.json`` (command, kubectl version, request path and content type per fixture).

``create job --from=cronjob/zero|filled`` copies a served CronJob whose job template sets every field in the
decoder's table to a zero value or to a non-zero one: kubectl's own Go types then decide what JSON keeps and what
goes on the wire, which checks the table's keep-zero flags field by field.

Usage: ``python tools/capture_protobuf.py [--kubectl PATH] [--only NAME ...] [--out DIR]``.
Every credential in the cases is an obviously fake demo value.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from labhelpers.sandbox.apiserver import protobuf

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "fixtures" / "protobuf"
PINNED_KUBECTL = "/tmp/kdl/kubectl/kubectl"
GCLOUD_KUBECTL_132 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
# kubectl 1.31 still sends JSON: its request body is the JSON twin for commands without --dry-run.
GCLOUD_KUBECTL_131 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.31"

NAMESPACE = "demo"
AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

# (group, version, plural, kind, namespaced, verbs)
RESOURCES: list[tuple[str, str, str, str, bool, list[str]]] = [
    ("", "v1", "namespaces", "Namespace", False, VERBS),
    ("", "v1", "secrets", "Secret", True, VERBS),
    ("", "v1", "configmaps", "ConfigMap", True, VERBS),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, VERBS),
    ("", "v1", "pods", "Pod", True, VERBS),
    ("", "v1", "events", "Event", True, VERBS),
    ("", "v1", "services", "Service", True, VERBS),
    ("apps", "v1", "deployments", "Deployment", True, VERBS),
    ("apps", "v1", "replicasets", "ReplicaSet", True, VERBS),
    ("batch", "v1", "jobs", "Job", True, VERBS),
    ("batch", "v1", "cronjobs", "CronJob", True, VERBS),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, VERBS),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, VERBS),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, VERBS),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, VERBS),
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, ["create"]),
    ("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, ["create"]),
    ("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, ["create"]),
]

# A CronJob the server hands out for `kubectl create job --from=cronjob/nightly`.
NIGHTLY_CRONJOB = {
    "kind": "CronJob",
    "apiVersion": "batch/v1",
    "metadata": {"name": "nightly", "namespace": NAMESPACE, "uid": "0b9f4c1e-5d7a-4e3b-9a61-2f0c8d6e1a42",
                 "resourceVersion": "41", "creationTimestamp": "2024-01-02T03:04:05Z"},
    "spec": {
        "schedule": "0 2 * * *",
        "concurrencyPolicy": "Forbid",
        "suspend": False,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
        "jobTemplate": {
            "metadata": {"labels": {"app": "nightly"}},
            "spec": {
                "backoffLimit": 0,
                "ttlSecondsAfterFinished": 600,
                "template": {
                    "metadata": {"labels": {"app": "nightly"}, "annotations": {"lab/purpose": "demo"}},
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "serviceAccountName": "scanner",
                        "automountServiceAccountToken": False,
                        "terminationGracePeriodSeconds": 0,
                        "imagePullSecrets": [{"name": "regcred"}],
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                            "seccompProfile": {"type": "RuntimeDefault"}},
                        "volumes": [
                            {"name": "work", "emptyDir": {"sizeLimit": "64Mi"}},
                            {"name": "cfg", "configMap": {"name": "scanner-config", "defaultMode": 420}},
                            {"name": "creds", "secret": {"secretName": "regcred", "optional": True,
                                                         "items": [{"key": ".dockerconfigjson", "path": "config.json"}]}},
                        ],
                        "containers": [{
                            "name": "scan",
                            "image": "registry.example.test/lab/scanner:1.2.3",
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/scan"],
                            "args": ["--all", "--verbose"],
                            "workingDir": "/work",
                            "ports": [{"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                            "env": [
                                {"name": "MODE", "value": "nightly"},
                                {"name": "EMPTY", "value": ""},
                                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "scanner-token", "key": "token"}}},
                                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                                "fieldPath": "metadata.name"}}},
                                {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
                                                                                         "divisor": "1m"}}},
                            ],
                            "envFrom": [{"configMapRef": {"name": "scanner-env"}, "prefix": "CFG_"}],
                            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                                          "requests": {"cpu": "100m", "memory": "64Mi"}},
                            "volumeMounts": [{"name": "work", "mountPath": "/work"},
                                             {"name": "cfg", "mountPath": "/etc/scanner", "readOnly": True}],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "metrics", "scheme": "HTTP"},
                                               "periodSeconds": 5},
                            "livenessProbe": {"tcpSocket": {"port": 9090}, "initialDelaySeconds": 3},
                            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                        }],
                        "tolerations": [{"key": "lab", "operator": "Exists", "effect": "NoSchedule"}],
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                    },
                },
            },
        },
    },
    "status": {},
}

# A running Pod as a real server would return it (defaults filled in), for `kubectl debug web --copy-to=...`.
WEB_POD = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {"name": "web", "namespace": NAMESPACE, "uid": "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
                 "resourceVersion": "57", "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "web"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f7c9b6",
                                      "uid": "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b", "controller": True,
                                      "blockOwnerDeletion": True}]},
    "spec": {
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"],
                            "restartPolicy": "Always", "resources": {},
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                            "imagePullPolicy": "IfNotPresent"}],
        "containers": [{
            "name": "web", "image": "registry.example.test/lab/web:1.0", "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}},
            "startupProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "failureThreshold": 30,
                             "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
            "volumeMounts": [{"name": "kube-api-access-abcde", "readOnly": True,
                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        }],
        "volumes": [{"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                          "fieldPath": "metadata.namespace"}}]}},
        ]}}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default", "serviceAccount": "default", "nodeName": "sandbox-node",
        "securityContext": {}, "schedulerName": "default-scheduler", "priority": 0,
        "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300}],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                "labelSelector": {"matchExpressions": [
                                                    {"key": "app", "operator": "In", "values": ["web"]}]}}}]}},
    },
    "status": {"phase": "Running", "podIP": "10.244.0.7", "startTime": "2024-01-02T03:04:06Z", "qosClass": "Burstable"},
}



def every_field(message: str, filler: dict[str, object], depth: int = 0) -> dict:
    """A JSON object setting every field the decoder's table knows for ``message`` to ``filler[type]``.

    Served inside a CronJob, it makes kubectl's own Go types decide (for ``create job --from``) which zero values
    JSON keeps and what goes on the protobuf wire, so the decoder's keep-zero flags are checked field by field.
    """
    out: dict = {}
    for f in protobuf._MESSAGES[message].values():
        if f.type in protobuf._MESSAGES:
            value: object = every_field(f.type, filler, depth + 1) if depth < 12 else {}
        else:
            value = filler[f.type]
        if f.name == protobuf._INLINE:
            assert isinstance(value, dict)
            out.update(value)
        elif f.is_map:
            out[f.name] = {"k": value}
        else:
            out[f.name] = [value] if f.repeated else value
    return out


ZERO = {"string": "", "bytes": "", "bool": False, "int32": 0, "int64": 0, "IntOrString": 0, "Quantity": "0",
        "Time": None, "MicroTime": None, "FieldsV1": {}, "ExtraValue": []}
FILLED = {"string": "x", "bytes": "eA==", "bool": True, "int32": -7, "int64": -(2**40), "IntOrString": "http",
          "Quantity": "1500m", "Time": "2024-01-02T03:04:05Z", "MicroTime": "2024-01-02T03:04:05.123456Z",
          "FieldsV1": {"f:x": {}}, "ExtraValue": ["x"]}


def cronjob_with_every_field(name: str, filler: dict[str, object]) -> dict:
    job_spec = every_field("JobSpec", filler)
    return {"kind": "CronJob", "apiVersion": "batch/v1",
            "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"00000000-0000-4000-8000-00000000{len(name):04d}"},
            "spec": {"schedule": "@daily", "jobTemplate": {"metadata": {"labels": {"app": name}}, "spec": job_spec}}}


CANNED = {
    f"/apis/batch/v1/namespaces/{NAMESPACE}/cronjobs/nightly": NIGHTLY_CRONJOB,
    f"/apis/batch/v1/namespaces/{NAMESPACE}/cronjobs/zero": cronjob_with_every_field("zero", ZERO),
    f"/apis/batch/v1/namespaces/{NAMESPACE}/cronjobs/filled": cronjob_with_every_field("filled", FILLED),
    f"/api/v1/namespaces/{NAMESPACE}/pods/web": WEB_POD,
}

DOCKER = ["--docker-server=registry.example.test", "--docker-username=demo", "--docker-password=demo-password",
          "--docker-email=demo@example.test"]


@dataclass
class Case:
    """One kubectl command whose protobuf request body becomes a fixture."""

    name: str
    args: list[str]
    files: dict[str, bytes] = field(default_factory=dict)  # written into the working directory first
    dry_run: bool = True  # False: no --dry-run/-o (e.g. auth can-i); the JSON twin is kubectl 1.31's request body


CASES: list[Case] = [
    Case("namespace", ["create", "namespace", "registry-lab"]),
    Case("secret-docker-registry", ["create", "secret", "docker-registry", "regcred", *DOCKER]),
    Case("secret-generic-dockerconfigjson",
         ["create", "secret", "generic", "pull-secret", "--from-file=.dockerconfigjson=config.json",
          "--type=kubernetes.io/dockerconfigjson"],
         files={"config.json": b'{"auths":{"registry.example.test":{"auth":"ZGVtbzpkZW1vLXBhc3N3b3Jk"}}}'}),
    Case("secret-generic-binary",
         ["create", "secret", "generic", "blob", "--from-file=blob.bin", "--from-literal=user=demo",
          "--from-literal=empty="],
         files={"blob.bin": bytes(range(256))}),
    Case("configmap", ["create", "configmap", "settings", "--from-literal=mode=strict", "--from-literal=empty=",
                       "--from-file=logo.bin", "--append-hash"],
         files={"logo.bin": b"\x89PNG\r\n\x1a\n\x00\xff\xfe"}),
    Case("serviceaccount", ["create", "serviceaccount", "scanner"]),
    Case("deployment", ["create", "deployment", "web", "--image=registry.example.test/lab/web:1.0", "--replicas=3",
                        "--port=8080"]),
    Case("deployment-zero-replicas", ["create", "deployment", "idle", "--image=nginx", "--replicas=0"]),
    Case("deployment-multi-container",
         ["create", "deployment", "pair", "--image=busybox", "--image=registry.example.test/lab/sidecar:2"]),
    Case("job", ["create", "job", "once", "--image=busybox", "--", "echo", "hello"]),
    Case("job-from-cronjob", ["create", "job", "nightly-manual", "--from=cronjob/nightly"]),
    Case("job-from-cronjob-zero-values", ["create", "job", "zero-manual", "--from=cronjob/zero"]),
    Case("job-from-cronjob-every-field", ["create", "job", "filled-manual", "--from=cronjob/filled"]),
    Case("cronjob", ["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *",
                     "--restart=OnFailure", "--", "date"]),
    Case("role", ["create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods,deployments.apps",
                  "--resource-name=web"]),
    Case("rolebinding", ["create", "rolebinding", "read-pods", "--role=pod-reader", "--user=demo",
                         "--group=lab-students", "--serviceaccount=demo:scanner"]),
    Case("clusterrole", ["create", "clusterrole", "url-reader", "--verb=get", "--non-resource-url=/healthz,/logs/*"]),
    Case("clusterrolebinding", ["create", "clusterrolebinding", "read-urls", "--clusterrole=url-reader",
                                "--user=demo"]),
    Case("can-i-create-pods", ["auth", "can-i", "create", "pods"], dry_run=False),
    Case("can-i-subresource", ["auth", "can-i", "get", "pods", "--subresource=log", "--namespace=registry-lab"],
         dry_run=False),
    Case("can-i-named-resource", ["auth", "can-i", "delete", "secrets/regcred"], dry_run=False),
    Case("can-i-nonresource", ["auth", "can-i", "get", "/logs"], dry_run=False),
    Case("can-i-list", ["auth", "can-i", "--list"], dry_run=False),
    Case("whoami", ["auth", "whoami"], dry_run=False),
    Case("service-clusterip", ["create", "service", "clusterip", "web", "--tcp=80:8080", "--tcp=443:https"]),
    Case("service-nodeport", ["create", "service", "nodeport", "edge", "--tcp=8443:8443", "--node-port=30443"]),
    Case("debug-copy", ["debug", "web", "--copy-to=web-debug", "--image=busybox:1.36", "--container=dbg",
                        "--share-processes", "--profile=general", "--attach=false"], dry_run=False),
]

# kubectl 1.32 (gcloud build) for a few cases: its encoder is the same generated code, one minor older.
CASES_132: list[str] = ["namespace", "secret-docker-registry", "can-i-create-pods"]


class Recorder:
    """A minimal API server: discovery for :data:`RESOURCES`, canned GETs, and recorded POST bodies."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.lock = threading.Lock()

    # -- discovery ------------------------------------------------------------------------------------------
    @staticmethod
    def _aggregated(core: bool) -> dict:
        groups: dict[str, dict] = {}
        for group, version, plural, kind, namespaced, verbs in RESOURCES:
            if (group == "") != core:
                continue
            g = groups.setdefault(group, {"metadata": {"name": group} if group else {},
                                          "versions": [{"version": version, "resources": [], "freshness": "Current"}]})
            g["versions"][0]["resources"].append({
                "resource": plural, "responseKind": {"group": group, "version": version, "kind": kind},
                "scope": "Namespaced" if namespaced else "Cluster", "singularResource": kind.lower(), "verbs": verbs})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                "items": list(groups.values())}

    @staticmethod
    def _resource_list(group: str, version: str) -> dict:
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
            {"name": p, "singularName": k.lower(), "namespaced": ns, "kind": k, "verbs": verbs}
            for g, v, p, k, ns, verbs in RESOURCES if (g, v) == (group, version)]}

    async def discovery(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/")
        if path == "/version":
            return web.json_response({"major": "1", "minor": "33", "gitVersion": "v1.33.9", "platform": "linux/amd64"})
        if path in ("/api", "/apis"):
            if "apidiscovery.k8s.io" in request.headers.get("Accept", ""):
                body = json.dumps(self._aggregated(core=path == "/api"))
                return web.Response(text=body, headers={"Content-Type": AGGREGATED_CT})
            if path == "/api":
                return web.json_response({"kind": "APIVersions", "versions": ["v1"]})
        parts = path.strip("/").split("/")
        if parts == ["api", "v1"]:
            return web.json_response(self._resource_list("", "v1"))
        if len(parts) == 3 and parts[0] == "apis":
            return web.json_response(self._resource_list(parts[1], parts[2]))
        if path in CANNED:
            return web.json_response(CANNED[path])
        return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": "the server could not find the requested resource",
                                  "reason": "NotFound", "code": 404}, status=404)

    # -- writes -------------------------------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self.lock:
            self.posts.append({"path": request.path_qs, "content_type": request.headers.get("Content-Type", ""),
                               "body": body})
        parts = request.path.strip("/").split("/")
        plural = parts[-1]
        match = [r for r in RESOURCES if r[2] == plural]
        group, version, _, kind, _, _ = match[0] if match else ("", "v1", plural, "Unknown", False, [])
        obj = {"kind": kind, "apiVersion": f"{group}/{version}" if group else version,
               "metadata": {"name": "captured"}, "status": self.STATUS.get(kind, {})}
        return web.json_response(obj, status=201)

    # Just enough of a status for kubectl to print its result.
    STATUS = {
        "SelfSubjectAccessReview": {"allowed": True},
        "SelfSubjectRulesReview": {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                                   "nonResourceRules": [], "incomplete": False},
        "SelfSubjectReview": {"userInfo": {"username": "demo", "groups": ["system:authenticated"]}},
    }

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self.create)
        app.router.add_route("GET", "/{tail:.*}", self.discovery)
        return app


def start_server(recorder: Recorder) -> tuple[int, asyncio.AbstractEventLoop]:
    """Serve the recorder on a free loopback port from a daemon thread."""
    loop = asyncio.new_event_loop()
    ready: dict[str, int] = {}
    started = threading.Event()

    async def boot() -> None:
        runner = web.AppRunner(recorder.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(boot())
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    started.wait(10)
    return ready["port"], loop


def write_kubeconfig(path: Path, port: int) -> None:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "capture",
        "clusters": [{"name": "capture", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "demo", "user": {"token": "demo-token"}}],
        "contexts": [{"name": "capture", "context": {"cluster": "capture", "user": "demo", "namespace": NAMESPACE}}],
    }))


def run_kubectl(kubectl: str, args: list[str], kubeconfig: Path, workdir: Path) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="kubectl-home-") as home:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "KUBECONFIG": str(kubeconfig)}
        return subprocess.run([kubectl, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=60)


def with_dry_run(args: list[str]) -> list[str]:
    """Insert ``--dry-run=client -o json`` before any ``--`` so it is not taken as the container command."""
    extra = ["--dry-run=client", "-o", "json"]
    if "--" in args:
        i = args.index("--")
        return [*args[:i], *extra, *args[i:]]
    return [*args, *extra]


def capture(kubectl: str, case: Case, recorder: Recorder, kubeconfig: Path, out: Path, suffix: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="capture-") as tmp:
        workdir = Path(tmp)
        for fname, content in case.files.items():
            (workdir / fname).write_bytes(content)
        with recorder.lock:
            recorder.posts.clear()
        proc = run_kubectl(kubectl, case.args, kubeconfig, workdir)
        with recorder.lock:
            posts = list(recorder.posts)
        if len(posts) != 1:
            raise SystemExit(f"{case.name}: expected one POST, got {len(posts)}\n{proc.stdout}{proc.stderr}")
        post = posts[0]
        name = case.name + suffix
        (out / f"{name}.bin").write_bytes(post["body"])
        entry = {"command": ["kubectl", *case.args], "kubectl": version_of(kubectl), "path": post["path"],
                 "content_type": post["content_type"]}
        if case.dry_run:
            dry = run_kubectl(kubectl, with_dry_run(case.args), kubeconfig, workdir)
            if dry.returncode != 0:
                raise SystemExit(f"{case.name}: dry run failed: {dry.stderr}")
            obj = json.loads(dry.stdout)
            entry["json"] = "kubectl --dry-run=client -o json"
        else:
            obj = json_request_body(case, recorder, kubeconfig, workdir)
            entry["json"] = f"request body of kubectl {version_of(GCLOUD_KUBECTL_131)}"
        (out / f"{name}.json").write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
        print(f"{name}: {len(post['body'])} bytes, {post['content_type']}", file=sys.stderr)
        return {name: entry}


def json_request_body(case: Case, recorder: Recorder, kubeconfig: Path, workdir: Path) -> dict:
    """The JSON body kubectl 1.31 (the last minor that sends JSON) POSTs for the same command."""
    with recorder.lock:
        recorder.posts.clear()
    proc = run_kubectl(GCLOUD_KUBECTL_131, case.args, kubeconfig, workdir)
    with recorder.lock:
        posts = list(recorder.posts)
    if len(posts) != 1 or not posts[0]["content_type"].startswith("application/json"):
        raise SystemExit(f"{case.name}: kubectl 1.31 sent no single JSON POST\n{proc.stdout}{proc.stderr}")
    return json.loads(posts[0]["body"])


def version_of(kubectl: str) -> str:
    out = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["clientVersion"]["gitVersion"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubectl", default=PINNED_KUBECTL)
    ap.add_argument("--kubectl-132", default=GCLOUD_KUBECTL_132, help="older kubectl for CASES_132 ('' to skip)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", help="case names to capture")
    opts = ap.parse_args()

    opts.out.mkdir(parents=True, exist_ok=True)
    recorder = Recorder()
    port, loop = start_server(recorder)
    manifest_path = opts.out / "manifest.json"
    manifest: dict = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    with tempfile.TemporaryDirectory(prefix="capture-kubeconfig-") as tmp:
        kubeconfig = Path(tmp) / "config"
        write_kubeconfig(kubeconfig, port)
        for case in CASES:
            if opts.only and case.name not in opts.only:
                continue
            manifest.update(capture(opts.kubectl, case, recorder, kubeconfig, opts.out, ""))
            if opts.kubectl_132 and case.name in CASES_132:
                manifest.update(capture(opts.kubectl_132, case, recorder, kubeconfig, opts.out, "-1.32"))
    manifest = {name: entry for name, entry in sorted(manifest.items()) if (opts.out / f"{name}.bin").exists()}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    loop.call_soon_threadsafe(loop.stop)


if __name__ == "__main__":
    main()
