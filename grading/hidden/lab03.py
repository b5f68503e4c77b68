"""Hidden checks of assignment lab03, one ``add_nbXX(checks, api, ns)`` per graded notebook.

This file is injected, as it is, into each graded self-check cell between nbgrader's HIDDEN TESTS markers, followed
by the call for that notebook; students never see it, and the feedback shows only the ✅/❌ lines it prints. So:
no ``from __future__`` import, private names only (the cell shares the notebook's namespace), and every check reads
the cluster through ``api`` (the objects, their events, what admission wrote), never a notebook variable.
"""

import base64 as _base64
import json as _json

from kubernetes import client as _client

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io")


def _secret(api, ns, name):
    return _client.CoreV1Api(api).read_namespaced_secret(name, ns)


def _auths(secret):
    """The ``auths`` of a dockerconfigjson secret (empty when it holds something else)."""
    raw = (secret.data or {}).get(".dockerconfigjson")
    if secret.type != "kubernetes.io/dockerconfigjson" or not raw:
        return {}
    try:
        return _json.loads(_base64.b64decode(raw)).get("auths") or {}
    except (ValueError, AttributeError):
        return {}


def _entry_login(entry):
    """``username:password`` as the kubelet reads an entry: the ``auth`` field, else username and password."""
    if entry.get("auth"):
        try:
            return _base64.b64decode(entry["auth"]).decode()
        except (ValueError, UnicodeDecodeError):
            return ""
    return f"{entry.get('username', '')}:{entry.get('password', '')}"


def expect_login(api, ns, name, keys, username, password):
    """(ok, detail): secret ``name`` has an entry under one of ``keys`` that logs in as username/password.

    The detail names the entry and the user it logs in as, never a password.
    """
    secret = _secret(api, ns, name)
    auths = _auths(secret)
    if not auths:
        return False, f"secret {name} is of type {secret.type} and holds no docker config"
    key = next((k for k in keys if k in auths), None)
    if key is None:
        return False, f"secret {name} has no entry for {keys[0]} (entries: {', '.join(auths)})"
    user, _, pw = _entry_login(auths[key]).partition(":")
    if user != username:
        return False, f"the {key} entry of {name} logs in as {user or '(nobody)'!r}, not {username!r}"
    if pw != password:
        return False, f"the {key} entry of {name} logs in as {user!r} but not with the exercise's password"
    return True, f"{key} as {user}"


def _pod(api, ns, name):
    return _client.CoreV1Api(api).read_namespaced_pod(name, ns)


def _pull_secret_names(spec):
    return [ref.name for ref in spec.image_pull_secrets or []]


def add_nb01(checks, api, ns):
    """01: the secrets of Exercises 1-3 carry the exercise's credentials, not just any entry for the registry."""
    checks.add(lambda: expect_login(api, ns, "dockerhub-secret", DOCKER_HUB_KEYS, "your-username", "your-password"),
               "dockerhub-secret logs in to Docker Hub as the demo account",
               "dockerhub-secret does not carry the demo account's login for Docker Hub",
               "Exercise 1: --docker-server=https://index.docker.io/v1/ --docker-username=your-username "
               "--docker-password=your-password")
    checks.add(lambda: expect_login(api, ns, "docker-config-secret", ("myregistry.com",), "username", "password"),
               "docker-config-secret carries the docker login for myregistry.com",
               "docker-config-secret does not carry the docker login for myregistry.com",
               "Exercise 2: create it from the config.json that the login cells wrote (docker_config), unchanged")
    checks.add(lambda: expect_login(api, ns, "manual-registry-secret", ("myregistry.com",), "username", "password"),
               "manual-registry-secret logs in to myregistry.com",
               "manual-registry-secret does not log in to myregistry.com as username",
               "Exercise 3: auth is base64 of username:password, and the whole JSON is encoded again with base64 -w0")


def _deployment_template_secrets(api, ns):
    dep = _client.AppsV1Api(api).read_namespaced_deployment("private-app", ns)
    names = _pull_secret_names(dep.spec.template.spec)
    if "dockerhub-secret" in names:
        return True, ""
    return False, f"the pod template of private-app has imagePullSecrets {names or '(none)'}"


def _pulled_event(api, ns):
    """A Pulled event of a private-app pod: the kubelet really got the image."""
    events = _client.CoreV1Api(api).list_namespaced_event(ns).items
    pulled = [e for e in events if e.reason == "Pulled" and (e.involved_object.name or "").startswith("private-app-")]
    if pulled:
        return True, ""
    return False, "no private-app pod has a Pulled event"


def _sa_admission(api, ns):
    """app-with-sa names no pull secret itself; the ServiceAccount admission plugin copied registry-sa's."""
    pod = _pod(api, ns, "app-with-sa")
    if pod.spec.service_account_name != "registry-sa":
        return False, f"app-with-sa runs as serviceaccount {pod.spec.service_account_name}"
    names = _pull_secret_names(pod.spec)
    if names != ["dockerhub-secret"]:
        return False, f"app-with-sa has imagePullSecrets {names or '(none)'}"
    return True, ""


def _patch_timing(api, ns):
    """Admission copies the default ServiceAccount's secrets at creation: before-patch has none, after-patch has it."""
    before = _pull_secret_names(_pod(api, ns, "before-patch").spec)
    after = _pull_secret_names(_pod(api, ns, "after-patch").spec)
    if before == [] and "dockerhub-secret" in after:
        return True, ""
    return False, f"before-patch has {before or '(none)'}, after-patch has {after or '(none)'}"


def add_nb02(checks, api, ns):
    """02: where the pull secrets sit (the template, the ServiceAccount) and what admission and the kubelet did."""
    checks.add(lambda: _deployment_template_secrets(api, ns),
               "private-app's pod template names dockerhub-secret",
               "private-app's pod template does not name dockerhub-secret",
               "Exercise 4: imagePullSecrets belongs in the Deployment's pod template (spec.template.spec)")
    checks.add(lambda: _pulled_event(api, ns), "the kubelet pulled private-app's image",
               "the kubelet never pulled private-app's image",
               "Exercise 4: apply the Deployment and wait for its pod; pods.pod_events_table shows the pull")
    checks.add(lambda: _sa_admission(api, ns), "app-with-sa got dockerhub-secret from registry-sa at admission",
               "app-with-sa did not get its pull secret from registry-sa",
               "Exercise 5: serviceAccountName: registry-sa in the pod, and no imagePullSecrets of its own")
    checks.add(lambda: _patch_timing(api, ns),
               "only the pod created after the patch carries the default ServiceAccount's secret",
               "the pods before and after the patch do not show when admission copies pull secrets",
               "Exercise 6: create before-patch, patch the default ServiceAccount, then create after-patch")


def _multi_deployment(api, ns):
    dep = _client.AppsV1Api(api).read_namespaced_deployment("multi-registry-app", ns)
    spec = dep.spec.template.spec
    registries = sorted(c.image.split("/")[0] for c in spec.containers)
    names = _pull_secret_names(spec)
    if registries == ["docker.io", "ghcr.io", "myregistry.com"] and names == ["multi-registry-secret"]:
        return True, ""
    return False, f"containers from {', '.join(registries)}; imagePullSecrets {names or '(none)'}"


def _multi_pulled(api, ns):
    """Every container of a multi-registry-app pod is ready, with the image ID the kubelet recorded."""
    pods = _client.CoreV1Api(api).list_namespaced_pod(ns, label_selector="app=multi-app").items
    for pod in pods:
        statuses = pod.status.container_statuses or []
        if len(statuses) == 3 and all(s.ready and s.image_id for s in statuses):
            return True, ""
    return False, f"{len(pods)} multi-app pods, none with its three containers ready"


def add_nb03(checks, api, ns):
    """03: the three logins of the seed's docker-config.json, and the Deployment that uses them."""
    for key, user, password in (("docker.io", "user1", "pass1"), ("ghcr.io", "user2", "token2"),
                                ("myregistry.com", "user3", "pass3")):
        checks.add(lambda key=key, user=user, password=password:
                   expect_login(api, ns, "multi-registry-secret", (key,), user, password),
                   f"multi-registry-secret logs in to {key} as {user}",
                   f"multi-registry-secret does not log in to {key} as {user}",
                   "Exercise 7: each auth is base64 of user:password, as the seed's docker-config.json writes it")
    checks.add(lambda: _multi_deployment(api, ns),
               "multi-registry-app pulls from three registries with multi-registry-secret",
               "multi-registry-app is not the seed's Deployment",
               "Exercise 7: three containers (docker.io, ghcr.io, myregistry.com) and imagePullSecrets "
               "multi-registry-secret")
    checks.add(lambda: _multi_pulled(api, ns), "each of multi-registry-app's containers pulled its image",
               "multi-registry-app's containers did not all pull their images",
               "pods.pull_explain(api, POD, ns) shows which credentials each container used")
