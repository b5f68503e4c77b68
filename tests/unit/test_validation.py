"""Object validation against kube-apiserver's exact messages (shared/conformance/secret-validation.json and more)."""

from __future__ import annotations

import base64
import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from labhelpers.sandbox.apiserver import defaults, resources, validation
from labhelpers.sandbox.apiserver.errors import ApiError
from labhelpers.sandbox.apiserver.validation_cron import parse_standard_error
from labhelpers.sandbox.apiserver.validation_gojson import unmarshal_map_error

SECRET = resources.lookup("", "v1", "secrets")
CONFIGMAP = resources.lookup("", "v1", "configmaps")
NAMESPACE = resources.lookup("", "v1", "namespaces")
SERVICEACCOUNT = resources.lookup("", "v1", "serviceaccounts")
POD = resources.lookup("", "v1", "pods")
DEPLOYMENT = resources.lookup("apps", "v1", "deployments")
REPLICASET = resources.lookup("apps", "v1", "replicasets")
JOB = resources.lookup("batch", "v1", "jobs")
CRONJOB = resources.lookup("batch", "v1", "cronjobs")
ROLE = resources.lookup("rbac.authorization.k8s.io", "v1", "roles")
ROLEBINDING = resources.lookup("rbac.authorization.k8s.io", "v1", "rolebindings")



def _shared() -> Path:
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (Path(__file__).resolve().parents[2].parent / "shared").resolve()


SECRET_DOC = json.loads((_shared() / "conformance" / "secret-validation.json").read_text())


# --- vector plumbing (also usable by HTTP-level tests) ---

def _wire_secret(raw: dict, lengths: dict[str, int] | None) -> dict:
    """A conformance secret (data as raw text) in wire form: apiVersion/kind set, data base64-encoded."""
    obj = {"apiVersion": "v1", "kind": "Secret", **copy.deepcopy(raw)}
    data = {}
    for k, v in (raw.get("data") or {}).items():
        payload = b"\0" * lengths[k] if lengths and k in lengths else v.encode()
        data[k] = base64.b64encode(payload).decode()
    if "data" in raw:
        obj["data"] = data
    return obj


def secret_vector_case(vector: dict) -> tuple[Any, dict, dict | None, dict | None]:
    """Map a secret-validation.json vector to (resource type, object, old object or None, expected Status).

    Objects are in wire form (base64 data).  For updates both objects carry a resourceVersion, as the apiserver's
    store fills it in for unconditional updates before validation runs.
    """
    raw = {k: v for k, v in vector["secret"].items() if k != "data_lengths"}
    obj = _wire_secret(raw, vector["secret"].get("data_lengths"))
    old = None
    if vector["operation"] == "update":
        old = _wire_secret(vector["old_secret"], None)
        obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"] = "7"
    return SECRET, obj, old, vector.get("expect_status")


def _check(rt: Any, obj: dict, old: dict | None = None) -> ApiError | None:
    defaults.apply_defaults(rt, obj)
    errs = validation.validate_create(rt, obj) if old is None else validation.validate_update(rt, obj, old)
    try:
        validation.raise_if_invalid(rt, obj, errs)
    except ApiError as e:
        return e
    return None


def _message(rt: Any, obj: dict, old: dict | None = None) -> str:
    err = _check(rt, obj, old)
    assert err is not None, "expected the object to be rejected"
    return err.status()["message"]


@pytest.mark.parametrize("vector", SECRET_DOC["vectors"], ids=[v["test"] for v in SECRET_DOC["vectors"]])
def test_secret_vectors(vector: dict) -> None:
    rt, obj, old, expected = secret_vector_case(vector)
    err = _check(rt, obj, old)
    if vector["expect_valid"]:
        assert err is None, err and err.message
        return
    assert err is not None
    status = err.status()
    assert status == expected
    assert list(status) == list(expected)  # field order matters to kubectl's decoder only loosely, but keep it
    assert status["details"]["causes"] == vector["expect_causes"]
    # kubectl prints "The Secret ... is invalid: ..." with one bullet per cause for several causes.
    causes = status["details"]["causes"]
    if len(causes) == 1:
        rendered = f"The Secret \"{status['details']['name']}\" is invalid: {causes[0]['field']}: {causes[0]['message']}"
    else:
        rendered = f"The Secret \"{status['details']['name']}\" is invalid: \n" + "\n".join(
            f"* {c['field']}: {c['message']}" for c in causes)
    assert rendered == vector["expect_kubectl_apply_stderr"]


def test_vector_count_matches() -> None:
    assert len(SECRET_DOC["vectors"]) == SECRET_DOC["vector_count"]


@pytest.mark.parametrize(("text", "expected"), [
    (b"", "unexpected end of JSON input"),
    (b"{\"a\":", "unexpected end of JSON input"),
    (b"tru", "invalid character ' ' in literal true (expecting 'e')"),
    (b"nul!", "invalid character '!' in literal null (expecting 'l')"),
    (b"[1,]", "invalid character ']' looking for beginning of value"),
    (b"[1 2]", "invalid character '2' after array element"),
    (b"{\"a\":01}", "invalid character '1' after object key:value pair"),
    (b"{\"a\":\"\\x\"}", "invalid character 'x' in string escape code"),
    (b"{\"a\":\"\\u12g4\"}", "invalid character 'g' in \\u hexadecimal character escape"),
    (b"{\"a\":\"\x01\"}", "invalid character '\\x01' in string literal"),
    (b"{\"a\":1e+}", "invalid character '}' in exponent of numeric literal"),
    (b"12.5", "json: cannot unmarshal number into Go value of type map[string]interface {}"),
    (b" {\"auths\": {}} \n", None),
    (b"\xef\xbb\xbf{}", "invalid character '\u00ef' looking for beginning of value"),
])
def test_go_json_errors(text: bytes, expected: str | None) -> None:
    assert unmarshal_map_error(text) == expected


def test_go_json_accepts_what_python_accepts_modulo_nan() -> None:
    assert unmarshal_map_error(b'{"x": NaN}') == "invalid character 'N' looking for beginning of value"
    assert json.loads('{"x": NaN}')  # Python is laxer, which is why the port exists


def _secret(stype: str, data: dict[str, str], name: str = "s", **meta: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "default", **meta},
            "type": stype, "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


@pytest.mark.parametrize(("stype", "data", "message"), [
    ("kubernetes.io/basic-auth", {}, 'Secret "s" is invalid: [data[username]: Required value, data[password]: Required value]'),
    ("kubernetes.io/ssh-auth", {"ssh-privatekey": ""}, 'Secret "s" is invalid: data[ssh-privatekey]: Required value'),
    ("kubernetes.io/tls", {"tls.crt": "x"}, 'Secret "s" is invalid: data[tls.key]: Required value'),
    ("kubernetes.io/service-account-token", {},
     'Secret "s" is invalid: metadata.annotations[kubernetes.io/service-account.name]: Required value'),
])
def test_secret_types(stype: str, data: dict, message: str) -> None:
    assert _message(SECRET, _secret(stype, data)) == message


def test_secret_basic_auth_password_only_is_enough() -> None:
    assert _check(SECRET, _secret("kubernetes.io/basic-auth", {"password": ""})) is None


def test_secret_type_immutable_and_immutable_flag() -> None:
    old = _secret("Opaque", {"a": "1"}, resourceVersion="3")
    old["immutable"] = True
    new = _secret("kubernetes.io/tls", {"a": "1", "tls.crt": "c", "tls.key": "k"}, resourceVersion="3")
    assert _message(SECRET, new, old) == (
        'Secret "s" is invalid: [type: Invalid value: "kubernetes.io/tls": field is immutable, '
        "immutable: Forbidden: field is immutable when `immutable` is set, "
        "data: Forbidden: field is immutable when `immutable` is set]")


def test_update_resource_version() -> None:
    old = _secret("Opaque", {}, resourceVersion="3")
    # No resourceVersion: an unconditional update (the store fills in the current one).
    assert _check(SECRET, _secret("Opaque", {}), old) is None
    old["metadata"]["resourceVersion"] = ""
    assert _message(SECRET, _secret("Opaque", {}), old) == (
        'Secret "s" is invalid: metadata.resourceVersion: Invalid value: "": must be specified for an update')


def test_secret_default_type_is_opaque() -> None:
    obj = {"metadata": {"name": "x", "namespace": "d"}}
    defaults.apply_defaults(SECRET, obj)
    assert obj["type"] == "Opaque"


# --- object meta ---

def test_name_required_and_generate_name() -> None:
    assert _message(CONFIGMAP, {"metadata": {"namespace": "d"}}) == (
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required')


def test_namespace_names_are_dns_labels() -> None:
    msg = _message(NAMESPACE, {"metadata": {"name": "team.a"}})
    assert msg == 'Namespace "team.a" is invalid: metadata.name: Invalid value: "team.a": must not contain dots'


def test_label_and_annotation_syntax() -> None:
    cm = {"metadata": {"name": "c", "namespace": "d", "labels": {"app": "bad value"},
                       "annotations": {"a/b/c": "x"}}}
    assert _message(CONFIGMAP, cm) == (
        'ConfigMap "c" is invalid: [metadata.labels: Invalid value: "bad value": a valid label must be an empty '
        "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'), metadata.annotations: Invalid value: \"a/b/c\": a "
        "qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
        "'example.com/MyName')]")


def test_namespace_immutable_on_update() -> None:
    old = {"metadata": {"name": "c", "namespace": "a", "resourceVersion": "1"}}
    new = {"metadata": {"name": "c", "namespace": "b", "resourceVersion": "1"}}
    assert _message(CONFIGMAP, new, old) == (
        'ConfigMap "c" is invalid: metadata.namespace: Invalid value: "b": field is immutable')


def test_configmap_total_size_uses_root_path() -> None:
    cm = {"metadata": {"name": "c", "namespace": "d"}, "data": {"big": "x" * (1024 * 1024 + 1)}}
    assert _message(CONFIGMAP, cm) == 'ConfigMap "c" is invalid: : Too long: may not be more than 1048576 bytes'


def test_service_account_name() -> None:
    assert _message(SERVICEACCOUNT, {"metadata": {"name": "Bad", "namespace": "d"}}).startswith(
        'ServiceAccount "Bad" is invalid: metadata.name: Invalid value: "Bad": a lowercase RFC 1123 subdomain')


# --- pods ---

def _pod(**spec: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec}}


def test_pod_ok_after_defaults() -> None:
    assert _check(POD, _pod()) is None


def test_pod_image_required() -> None:
    pod = _pod()
    del pod["spec"]["containers"][0]["image"]
    assert _message(POD, pod) == 'Pod "web" is invalid: spec.containers[0].image: Required value'


def test_pod_containers_required() -> None:
    assert _message(POD, _pod(containers=[])) == 'Pod "web" is invalid: spec.containers: Required value'


def test_pod_container_names() -> None:
    pod = _pod(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}])
    assert _message(POD, pod) == 'Pod "web" is invalid: spec.containers[1].name: Duplicate value: "a"'


def test_pod_pull_policy_restart_policy_and_ports() -> None:
    pod = _pod(restartPolicy="Sometimes",
               containers=[{"name": "a", "image": "x", "imagePullPolicy": "Maybe",
                            "ports": [{"containerPort": 70000}]}])
    assert _message(POD, pod) == (
        'Pod "web" is invalid: [spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 '
        "and 65535, inclusive, spec.containers[0].imagePullPolicy: Unsupported value: \"Maybe\": supported values: "
        '"Always", "IfNotPresent", "Never", spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
        '"Always", "OnFailure", "Never"]')


def test_pod_tolerations_and_service_account_name() -> None:
    pod = _pod(serviceAccountName="Builder", tolerations=[{"key": "k", "operator": "Exists", "value": "v"}])
    assert _message(POD, pod) == (
        'Pod "web" is invalid: [spec.serviceAccountName: Invalid value: "Builder": a lowercase RFC 1123 subdomain '
        "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), spec.tolerations[0].operator: "
        "Invalid value: \"v\": value must be empty when `operator` is 'Exists']")


def test_pod_volume_mount_must_reference_volume() -> None:
    pod = _pod(containers=[{"name": "a", "image": "x", "volumeMounts": [{"name": "creds", "mountPath": "/c"}]}])
    assert _message(POD, pod) == 'Pod "web" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "creds"'


def test_pod_secret_volume_and_env() -> None:
    pod = _pod(volumes=[{"name": "creds", "secret": {}}],
               containers=[{"name": "a", "image": "x",
                            "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "s"}}}]}])
    assert _message(POD, pod) == (
        'Pod "web" is invalid: [spec.volumes[0].secret.secretName: Required value, '
        "spec.containers[0].env[0].valueFrom.secretKeyRef.key: Required value]")


def test_pod_update_message_prefix_and_diff() -> None:
    old = _pod()
    defaults.apply_defaults(POD, old)
    old["metadata"]["resourceVersion"] = "5"
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["env"] = [{"name": "MODE", "value": "debug"}]
    err = _check(POD, new, old)
    assert err is not None
    msg = err.status()["message"]
    assert msg.startswith(
        'Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than '
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        "`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
        "(allow it to be set to 1 if it was previously negative)\n  core.PodSpec{\n")
    assert ('- \t\t\tEnv:          nil,\n'
            '+ \t\t\tEnv:          []core.EnvVar{{Name: "MODE", Value: "debug"}},\n') in msg
    assert "  \t\t\t... // 5 identical fields\n" in msg
    assert msg.endswith("  }\n")


def test_pod_update_image_is_allowed_but_not_container_count() -> None:
    old = _pod()
    defaults.apply_defaults(POD, old)
    old["metadata"]["resourceVersion"] = "5"
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert _check(POD, new, old) is None
    new["spec"]["containers"].append({"name": "b", "image": "busybox"})
    defaults.apply_defaults(POD, new)
    assert _message(POD, new, old).endswith("spec.containers: Forbidden: pod updates may not add or remove containers")


# --- workloads ---

def _deploy(selector: Any = "default", labels: dict | None = None) -> dict:
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"template": {"metadata": {"labels": labels if labels is not None else {"app": "web"}},
                               "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}}
    if selector == "default":
        d["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    elif selector is not None:
        d["spec"]["selector"] = selector
    return d


def test_deployment_valid() -> None:
    assert _check(DEPLOYMENT, _deploy()) is None


def test_deployment_missing_selector_gives_two_errors() -> None:
    assert _message(DEPLOYMENT, _deploy(selector=None)) == (
        'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.template.metadata.labels: '
        'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`]')


def test_deployment_selector_mismatch_and_replicas() -> None:
    d = _deploy(labels={"app": "other"})
    d["spec"]["replicas"] = -1
    assert _message(DEPLOYMENT, d) == (
        'Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, '
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match '
        "template `labels`]")


def test_deployment_selector_immutable() -> None:
    old = _deploy()
    defaults.apply_defaults(DEPLOYMENT, old)
    old["metadata"]["resourceVersion"] = "9"
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "fe"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "fe"
    assert _message(DEPLOYMENT, new, old) == (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"web", "tier":"fe"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
        "field is immutable")


def test_replicaset_template_restart_policy() -> None:
    rs = _deploy()
    rs.update(apiVersion="apps/v1", kind="ReplicaSet")
    rs["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert _message(REPLICASET, rs) == (
        'ReplicaSet.apps "web" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never": '
        'supported values: "Always"')


def _job(restart: str | None = "Never") -> dict:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
           "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}}
    if restart:
        job["spec"]["template"]["spec"]["restartPolicy"] = restart
    return job


def test_job_defaults_generate_selector_and_validate() -> None:
    job = _job()
    assert _check(JOB, job) is None
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["spec"]["template"]["metadata"]["labels"] == {
        "job-name": "pi", "batch.kubernetes.io/job-name": "pi", "controller-uid": uid,
        "batch.kubernetes.io/controller-uid": uid}
    assert job["metadata"]["labels"] == job["spec"]["template"]["metadata"]["labels"]


def test_job_restart_policy_always_is_rejected() -> None:
    assert _message(JOB, _job(restart=None)) == (
        'Job.batch "pi" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", '
        '"Never"')


def test_job_template_immutable() -> None:
    old = _job()
    defaults.apply_defaults(JOB, old)
    old["metadata"]["resourceVersion"] = "3"
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5"
    msg = _message(JOB, new, old)
    assert msg.startswith('Job.batch "pi" is invalid: spec.template: Invalid value: core.PodTemplateSpec{')
    assert msg.endswith(": field is immutable")


def _cron(schedule: str) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick", "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}}


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "@hourly", "@every 1h30m", "0 9 * JAN-MAR MON-FRI", "0 0 1,15 * *"])
def test_cron_schedules_accepted(schedule: str) -> None:
    assert _check(CRONJOB, _cron(schedule)) is None


@pytest.mark.parametrize(("schedule", "error"), [
    ("off", "expected exactly 5 fields, found 1: [off]"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every 5x", 'failed to parse duration @every 5x: time: unknown unit "x" in duration "5x"'),
])
def test_cron_schedule_errors(schedule: str, error: str) -> None:
    assert parse_standard_error(schedule) == error
    assert _message(CRONJOB, _cron(schedule)) == (
        f'CronJob.batch "tick" is invalid: spec.schedule: Invalid value: {json.dumps(schedule)}: {error}')


def test_cron_job_template_restart_policy_and_tz() -> None:
    cj = _cron("TZ=UTC 0 * * * *")
    cj["spec"]["jobTemplate"]["spec"]["template"]["spec"].pop("restartPolicy")
    assert _message(CRONJOB, cj) == (
        'CronJob.batch "tick" is invalid: [spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or '
        "CRON_TZ in schedule, use timeZone field instead, spec.jobTemplate.spec.template.spec.restartPolicy: "
        'Required value: valid values: "OnFailure", "Never"]')


# --- rbac ---

def test_rolebinding_role_ref_required_and_immutable() -> None:
    rb = {"metadata": {"name": "rb", "namespace": "d"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                                     "kind": "Role"},
          "subjects": [{"kind": "ServiceAccount", "name": "default"}]}
    assert _message(ROLEBINDING, rb) == 'RoleBinding.rbac.authorization.k8s.io "rb" is invalid: roleRef.name: Required value'
    old = copy.deepcopy(rb)
    old["roleRef"]["name"] = "reader"
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "writer"
    assert _message(ROLEBINDING, new, old) == (
        'RoleBinding.rbac.authorization.k8s.io "rb" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"writer"}: cannot change roleRef')


def test_role_rules() -> None:
    role = {"metadata": {"name": "r", "namespace": "d"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]}
    assert _message(ROLE, role) == (
        'Role.rbac.authorization.k8s.io "r" is invalid: rules[0].verbs: Required value: verbs must contain at '
        "least one value")


def _stored_pod(**spec: Any) -> dict:
    pod = _pod(**spec)
    defaults.apply_defaults(POD, pod)
    pod["metadata"]["resourceVersion"] = "5"
    return pod


def test_pod_update_tolerations_may_only_be_added() -> None:
    old = _stored_pod(tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoExecute"}])
    new = copy.deepcopy(old)
    new["spec"]["tolerations"].append({"key": "spot", "operator": "Exists", "effect": "NoSchedule"})
    new["spec"]["tolerations"][0]["tolerationSeconds"] = 60
    assert _check(POD, new, old) is None
    new["spec"]["tolerations"][0].update(operator="Equal", value="a100")
    assert _message(POD, new, old) == (
        'Pod "web" is invalid: spec.tolerations: Forbidden: existing toleration can not be modified except its '
        "tolerationSeconds")


def test_pod_update_explicit_zero_values_are_no_change() -> None:
    old = _stored_pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["stdin"] = False
    new["spec"]["hostNetwork"] = False
    assert _check(POD, new, old) is None
    new["spec"]["automountServiceAccountToken"] = False  # a pointer: false is not "unset"
    assert _message(POD, new, old).startswith('Pod "web" is invalid: spec: Forbidden: pod updates may not change')


def test_pod_update_scalar_diff_lines_and_deadline_rules() -> None:
    old = _stored_pod(activeDeadlineSeconds=60)
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 120
    assert _message(POD, new, old) == (
        'Pod "web" is invalid: spec.activeDeadlineSeconds: Invalid value: 120: must be less than or equal to '
        "previous value")
    new["spec"]["activeDeadlineSeconds"] = 30
    new["spec"]["nodeName"] = "node-1"
    msg = _message(POD, new, old)
    assert '- \tNodeName:                     "",\n+ \tNodeName:                     "node-1",\n' in msg
    del new["spec"]["activeDeadlineSeconds"]
    new["spec"]["nodeName"] = ""
    assert _message(POD, new, old) == (
        'Pod "web" is invalid: spec.activeDeadlineSeconds: Invalid value: "null": must not update from a positive '
        "integer to nil value")
