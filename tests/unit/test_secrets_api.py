"""The notebook API's pure parts: secrets built byte for byte like kubectl, masking, tables, checks, pull causes."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from labhelpers import _pulls
from labhelpers._display import MASK, LabError, LabTable, lab_table
from labhelpers.checks import Checks, check
from labhelpers.secrets import (
    TABLE_COLUMNS,
    decode_dockerconfigjson,
    docker_registry_secret,
    dockerconfig_table,
    dockerconfigjson_bytes,
    kubectl_create_command,
    registry_secret_manifest,
    secret_from_docker_config,
    secret_from_yaml,
    secret_problems,
)
from labhelpers.shell import mask_text
from labhelpers.widgets import policy_table, secret_preview
from tests.conftest import load_conformance

KUBECTL = load_conformance("kubectl-create-secret-docker-registry.json")
EVENTS = load_conformance("kubelet-image-events.json")
FLAG_VECTORS = [v for v in KUBECTL["vectors"] if "docker_password" in v["input"]]


def _b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def _config_bytes(secret: dict) -> bytes:
    return base64.b64decode(secret["data"][".dockerconfigjson"])


def _ex7_config() -> dict:
    return {"auths": {"docker.io": {"auth": _b64("user1:pass1")}, "ghcr.io": {"auth": _b64("user2:token2")},
                      "myregistry.com": {"auth": _b64("user3:pass3")}}}


# --- kubectl create secret docker-registry, byte for byte ----------------------------------------------------


@pytest.mark.parametrize("vector", FLAG_VECTORS, ids=lambda v: v["test"])
def test_dockerconfigjson_bytes_match_kubectl(vector: dict) -> None:
    i = vector["input"]
    secret = docker_registry_secret(i.get("name", "foo"), i["docker_server"], i["docker_username"],
                                    i["docker_password"], i.get("docker_email"), append_hash=i.get("append_hash", False))
    assert _config_bytes(secret).decode() == vector["expect_dockerconfigjson_bytes"]
    if "expect_secret" in vector:
        assert secret == vector["expect_secret"]
        assert list(secret) == ["kind", "apiVersion", "metadata", "data", "type"]  # kubectl -o json order


def test_append_hash_names_are_kubectls() -> None:
    names = {v["expect_secret"]["metadata"]["name"] for v in FLAG_VECTORS if v["input"].get("append_hash")}
    assert names == {"foo-548cm7fgdh", "foo-bff5bt4f92"}
    made = {docker_registry_secret("foo", "https://index.docker.io/v1/", "test-user", "test-password", email,
                                   append_hash=True)["metadata"]["name"] for email in ("test-user@example.org", "")}
    assert made == names


def test_html_characters_escaped_like_go() -> None:
    raw = dockerconfigjson_bytes("r.example.com", "bob", 'p<&>w"d')
    assert raw == b'{"auths":{"r.example.com":{"username":"bob","password":"p\\u003c\\u0026\\u003ew\\"d",' \
                  b'"auth":"Ym9iOnA8Jj53ImQ="}}}'
    assert json.loads(raw)["auths"]["r.example.com"]["password"] == 'p<&>w"d'


def test_namespace_only_when_given() -> None:
    assert "namespace" not in docker_registry_secret("a", "s", "u", "p")["metadata"]
    assert docker_registry_secret("a", "s", "u", "p", namespace="registry-lab")["metadata"]["namespace"] == \
        "registry-lab"


def test_missing_credentials_error_is_kubectls() -> None:
    vector = next(v for v in KUBECTL["vectors"] if "expect_error" in v)
    with pytest.raises(LabError) as e:
        docker_registry_secret("foo", vector["input"]["docker_server"], vector["input"]["docker_username"], "")
    assert e.value.message == vector["expect_error"]
    assert e.value.hint  # says how to fix it


@pytest.mark.parametrize("vector", [v for v in KUBECTL["vectors"] if "file_contents" in v["input"]
                                    and "expect_secret" in v], ids=lambda v: v["test"])
def test_from_file_stores_bytes_verbatim(vector: dict, tmp_path: Path) -> None:
    path = tmp_path / "dockerconfig.json"
    path.write_text(vector["input"]["file_contents"])
    secret = secret_from_docker_config("foo", path)
    assert secret["data"] == vector["expect_secret"]["data"]
    assert secret["type"] == "kubernetes.io/dockerconfigjson"


def test_from_file_missing_is_kubectls_error() -> None:
    vector = next(v for v in KUBECTL["vectors"] if v["test"] == "derived/from-file-missing-file")
    with pytest.raises(LabError) as e:
        secret_from_docker_config("regcred", "/nope/config.json")
    assert f"error: {e.value.message}" == vector["expect_cli_stderr"]


def test_from_dict_keeps_order_and_go_escaping() -> None:
    secret = secret_from_docker_config("multi", {"auths": {"b.io": {"auth": "x<"}, "a.io": {"auth": "y"}}})
    assert _config_bytes(secret) == b'{"auths":{"b.io":{"auth":"x\\u003c"},"a.io":{"auth":"y"}}}'


def test_exercise3_manifest_round_trip() -> None:
    text = registry_secret_manifest("manual-registry-secret", {"myregistry.com": ("username", "password")},
                                    namespace="registry-lab")
    assert text.splitlines()[:7] == ["apiVersion: v1", "kind: Secret", "metadata:", "  name: manual-registry-secret",
                                     "  namespace: registry-lab", "type: kubernetes.io/dockerconfigjson", "data:"]
    secret = secret_from_yaml(text)
    assert _config_bytes(secret) == b'{"auths":{"myregistry.com":{"auth":"dXNlcm5hbWU6cGFzc3dvcmQ="}}}'
    assert decode_dockerconfigjson(secret) == {"auths": {"myregistry.com": {"auth": "dXNlcm5hbWU6cGFzc3dvcmQ="}}}


def test_secret_from_yaml_rejects_other_kinds() -> None:
    with pytest.raises(LabError, match="expected a Secret"):
        secret_from_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")


def test_decode_handles_string_data_and_bad_json() -> None:
    secret = {"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": '{"auths":{}}'}}
    assert decode_dockerconfigjson(secret) == {"auths": {}}
    with pytest.raises(LabError, match="not JSON"):
        decode_dockerconfigjson({"data": {".dockerconfigjson": _b64("bad")}})
    with pytest.raises(LabError, match="neither"):
        decode_dockerconfigjson({"data": {"config.json": _b64("{}")}})


# --- the dockerconfig table -----------------------------------------------------------------------------------


def test_table_columns_and_masking() -> None:
    secret = docker_registry_secret("dockerhub-secret", "https://index.docker.io/v1/", "your-username",
                                    "your-password", "your-email@example.com")
    table = dockerconfig_table(secret, images=["docker.io/yourusername/private-app:v1.0", "ghcr.io/x/y:1"])
    assert isinstance(table, LabTable)
    assert list(table.columns) == TABLE_COLUMNS
    row = table.iloc[0]
    assert row["registry"] == "https://index.docker.io/v1/"
    assert row["kubelet key"] == "index.docker.io"
    assert row["username"] == "your-username"
    assert row["password"] == MASK
    assert row["email"] == "your-email@example.com"
    assert row["auth valid?"].startswith("✅")
    assert row["matches"] == "docker.io/yourusername/private-app:v1.0"
    assert row["ignored by the kubelet"] == "email"
    for rendering in (table.to_text(), repr(table), table._repr_html_(), table.to_csv()):
        assert "your-password" not in rendering
        assert _b64("your-username:your-password") not in rendering
    revealed = dockerconfig_table(secret, reveal=True)
    assert revealed.iloc[0]["password"] == "your-password"


def test_table_kubelet_order_for_exercise7() -> None:
    config = _ex7_config()
    config["auths"]["https://index.docker.io/v1/"] = {"auth": _b64("hub:pw")}
    images = ["docker.io/youruser/app1:v1.0", "ghcr.io/youruser/app2:v1.0", "myregistry.com/app3:v1.0", "nginx"]
    table = dockerconfig_table({"kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                                "data": {".dockerconfigjson": _b64(json.dumps(config))}}, images=images)
    by_registry = {r["registry"]: r for _, r in table.iterrows()}
    # "docker.io" matches docker.io/... directly, so the index.docker.io fallback is not used for it
    assert by_registry["docker.io"]["matches"] == "docker.io/youruser/app1:v1.0\nnginx"
    assert by_registry["https://index.docker.io/v1/"]["matches"] == ""
    assert by_registry["ghcr.io"]["matches"] == "ghcr.io/youruser/app2:v1.0"
    assert by_registry["myregistry.com"]["matches"] == "myregistry.com/app3:v1.0"
    assert [r["username"] for _, r in table.iterrows()] == ["user1", "user2", "user3", "hub"]


def test_table_auth_consistency_and_ignored_fields() -> None:
    config = {"auths": {
        "a.io": {"username": "alice", "password": "pw1", "auth": _b64("bob:pw2"), "identitytoken": "tok"},
        "b.io": {"auth": "!!!"},
        "c.io": {"auth": _b64("nocolon")},
        "d.io": {"username": "u", "password": "p"},
        "e.io": {"registrytoken": "x"},
    }, "credsStore": "desktop"}
    table = dockerconfig_table(config)
    rows = {r["registry"]: r for _, r in table.iterrows()}
    assert rows["a.io"]["auth valid?"].startswith("⚠️")
    assert "'bob'" in rows["a.io"]["auth valid?"] and "pw1" not in rows["a.io"]["auth valid?"]
    assert rows["a.io"]["username"] == "bob"  # what the kubelet uses
    assert rows["a.io"]["ignored by the kubelet"] == "identitytoken"
    assert rows["b.io"]["auth valid?"] == "❌ illegal base64 data at input byte 0"
    assert rows["c.io"]["auth valid?"] == ("❌ unable to parse auth field, must be formatted as "
                                          "base64(username:password)")
    assert rows["d.io"]["auth valid?"].startswith("✅ no auth field")
    assert rows["e.io"]["auth valid?"].startswith("❌ no credentials")
    assert any("credsStore" in n for n in table.notes)
    assert "pw1" not in table.to_text() and "pw2" not in table.to_text()


def test_problems_found_for_wrong_formats() -> None:
    no_wrapper = {"kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                  "data": {".dockerconfigjson": _b64('{"myregistry.com":{"auth":"dTpw"}}')}}
    assert any("no 'auths' wrapper" in p for p in secret_problems(no_wrapper))
    opaque = {"kind": "Secret", "type": "Opaque", "data": {".dockerconfigjson": _b64('{"auths":{}}')}}
    assert any("type Opaque" in p for p in secret_problems(opaque))
    good = docker_registry_secret("ok", "myregistry.com", "u", "p")
    assert secret_problems(good) == []


def test_command_and_preview_mask_the_password() -> None:
    cmd = kubectl_create_command("regcred", "myregistry.com", "user3", "pass3", namespace="registry-lab")
    assert "--docker-password=****" in cmd and "pass3" not in cmd
    assert "pass3" in kubectl_create_command("regcred", "myregistry.com", "user3", "pass3", reveal=True)
    preview = secret_preview("regcred", "myregistry.com", "user3", "pass3", images=["myregistry.com/app3:v1.0"])
    assert "pass3" not in preview.to_text() and "pass3" not in preview._repr_html_()
    assert preview.iloc[0]["matches"] == "myregistry.com/app3:v1.0"


# --- shell masking --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "hidden"), [
    ("kubectl create secret docker-registry s --docker-password=your-password", "your-password"),
    ("kubectl create secret docker-registry s --docker-password 's3 cret'", "s3 cret"),
    ("echo -n 'user1:pass1' | base64", "pass1"),
    ("docker login -u AWS -p eyJwYXlsb2 r.io", "eyJwYXlsb2"),
    ("curl -u username:password https://index.docker.io/v2/", "password"),
    ('{"auths":{"r":{"username":"u","password":"hunter2","auth":"dTpodW50ZXIy"}}}', "hunter2"),
    (".dockerconfigjson: eyJhdXRocyI6eyJteXJlZ2lzdHJ5LmNvbSI6e319fQ==", "eyJhdXRocyI6"),
])
def test_mask_text(text: str, hidden: str) -> None:
    masked = mask_text(text)
    assert hidden not in masked
    assert MASK in masked


def test_mask_text_keeps_shell_substitutions_readable() -> None:
    masked = mask_text('"auth": "$(echo -n \'user1:pass1\' | base64)"')
    assert masked == '"auth": "$(echo -n \'user1:****\' | base64)"'
    assert mask_text("kubectl get pods -n registry-lab") == "kubectl get pods -n registry-lab"


# --- display and checks ---------------------------------------------------------------------------------------


def test_lab_table_text_is_complete_and_left_aligned() -> None:
    long = "x" * 300
    table = lab_table([["a", long], ["bb", "two\nlines"]], ["NAME", "MESSAGE"], caption="cap", notes=["note"])
    text = table.to_text().splitlines()
    assert text[0] == "cap"
    assert text[1] == "NAME  MESSAGE"
    assert text[2] == "a     " + long
    assert text[3] == "bb    two | lines"
    assert text[4] == "- note"
    assert "<caption>" in table._repr_html_() or "cap</caption>" in table._repr_html_()
    assert isinstance(table[table["NAME"] == "a"], LabTable)
    empty = lab_table([], ["A", "B"])
    assert list(empty.columns) == ["A", "B"] and "(no rows)" in empty.to_text()


def test_lab_error_renders_without_traceback() -> None:
    err = LabError("secret missing", "create it")
    assert err._render_traceback_() == ["❌ secret missing", "   how to fix: create it"]


def test_checks_print_to_stdout_only(capsys: pytest.CaptureFixture[str]) -> None:
    def boom() -> bool:
        raise RuntimeError("no cluster")

    ok = check(lambda: (True, "3 registries"), "secret exists", "secret missing", "create it")
    bad = check(boom, "cluster reachable", "cluster unreachable", "labctl sandbox up")
    out = capsys.readouterr()
    assert out.err == ""
    assert "✅ secret exists (3 registries)" in out.out
    assert "❌ cluster unreachable\n   what is wrong: RuntimeError: no cluster\n   how to fix: labctl sandbox up" in out.out
    assert ok and not bad
    checks = Checks("demo").add(lambda: False, "a", "a failed", "fix a").add(lambda: False, "b", "b missing",
                                                                              level="warning")
    results = checks.run()
    out = capsys.readouterr()
    assert out.err == "" and "⚠️ b missing" in out.out and "0 passed, 1 failed, 1 warnings" in out.out
    assert [r.ok for r in results] == [False, False] and not checks.ok
    assert list(checks.table().columns) == ["check", "result", "what is wrong", "how to fix"]


def test_policy_table_without_widgets() -> None:
    def evaluate(image: str) -> tuple[bool, str]:
        if image.startswith("bad"):
            raise ValueError("cannot parse")
        return image.startswith("myregistry.com/"), "approved registry" if image.startswith("my") else "not approved"

    table = policy_table(evaluate, ["myregistry.com/app3:v1.0", "docker.io/nginx:latest", "bad"])
    assert list(table["allowed"]) == ["✅ allowed", "❌ denied", "❌ error"]
    assert table.iloc[2]["reason"] == "ValueError: cannot parse"


# --- pull causes from the runtime's real messages -------------------------------------------------------------


def test_classify_runtime_errors() -> None:
    cri = EVENTS["cri_error_strings"]
    assert _pulls.classify(cri["containerd_401_basic_auth_or_wrong_creds"]["template"]) == "unauthorized"
    assert _pulls.classify(cri["containerd_401_token_auth"]["template"]) == "bad_credentials"
    assert _pulls.classify(cri["containerd_anonymous_token_forbidden"]["real_example"]) == "anonymous_denied"
    assert _pulls.classify(cri["containerd_dockerhub_private_or_missing_repo"]["template"]) == "access_denied"
    assert _pulls.classify(cri["containerd_tag_not_found"]["real_example"]) == "not_found"
    assert _pulls.classify('failed to do request: Head "https://x.io/v2/a/manifests/1": dial tcp: lookup x.io: '
                           "no such host") == "no_such_host"


def test_strip_pull_prefix_of_event_and_backoff_status() -> None:
    scenario = EVENTS["scenarios"][0]
    failed = scenario["events_in_order"][1]["message"]
    raw = scenario["status_after_failed_pull"]["waiting"]["message"]
    assert _pulls.strip_pull_prefix(failed) == raw
    assert _pulls.strip_pull_prefix(scenario["status_during_backoff"]["waiting"]["message"]) == raw


def test_expiry_from_ecr_token_and_jwt() -> None:
    past = int(time.time()) - 60
    ecr = _b64(json.dumps({"payload": "x", "version": "2", "type": "DATA_KEY", "expiration": past}))
    when, kind = _pulls.expiry("AWS", ecr)
    assert when == past and "ECR" in kind
    jwt = ".".join([_b64('{"alg":"none"}').rstrip("="), _b64(json.dumps({"exp": past})).rstrip("="), "sig"])
    assert _pulls.expiry("00000000-0000-0000-0000-000000000000", jwt)[0] == past
    assert _pulls.expiry("user3", "pass3") == (None, "")


def test_events_sorted_like_describe() -> None:
    events = [{"reason": "Pulling", "lastTimestamp": "2024-01-01T00:00:05Z"},
              {"reason": "Scheduled", "eventTime": "2024-01-01T00:00:00.000000Z", "lastTimestamp": None},
              {"reason": "Failed", "lastTimestamp": "2024-01-01T00:00:03Z"}]
    assert [e["reason"] for e in _pulls.sort_events(events)] == ["Scheduled", "Failed", "Pulling"]


def test_key_mismatch_explains_docker_hub_endpoint() -> None:
    assert "only matches docker.io" in _pulls.key_mismatch("registry-1.docker.io", "docker.io/youruser/app1")
    assert "port differs" in _pulls.key_mismatch("registry.lab.local", "registry.lab.local:5000/team/app")


def test_html_cells_are_escaped() -> None:
    table = lab_table([["<password>", "a & b"]], ["fix", "x"])
    html_text = table._repr_html_()
    assert "&lt;password&gt;" in html_text and "<password>" not in html_text


def test_decoded_config_prints_masked_but_keeps_values() -> None:
    secret = docker_registry_secret("a", "r.io", "u", "pw123")
    config = decode_dockerconfigjson(secret)
    assert config["auths"]["r.io"]["password"] == "pw123"
    assert json.loads(json.dumps(config))["auths"]["r.io"]["auth"] == _b64("u:pw123")
    assert "pw123" not in repr(config) and "pw123" not in str(config) and _b64("u:pw123") not in repr(config)
    assert "pw123" in repr(decode_dockerconfigjson(secret, reveal=True))


def test_widgets_work_in_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    from labhelpers import widgets

    shown: list[str] = []
    monkeypatch.setattr(widgets, "interactive", lambda: True)
    monkeypatch.setattr(widgets, "_show_in", lambda _out, obj: shown.append(obj if isinstance(obj, str) else repr(obj)))
    form = widgets.secret_builder(None, name="regcred", server="myregistry.com", username="user3", password="pass3",
                                  namespace="registry-lab", images=["myregistry.com/app3:v1.0"])
    assert "--docker-password=****" in shown[-1] and "pass3" not in shown[-1]
    password_field = next(c for c in form.children if getattr(c, "description", "") == "password")
    password_field.value = "other-secret"
    assert "other-secret" not in shown[-1] and "myregistry.com/app3:v1.0" in shown[-1]
    tester = widgets.policy_tester(lambda i: (i.startswith("myregistry.com/"), "approved registries only"))
    box = tester.children[0].children[0]
    box.value = "docker.io/nginx:latest"
    assert "❌ denied" in shown[-1] and "docker.io/nginx:latest" in shown[-1]


def test_widgets_headless_return_tables() -> None:
    from labhelpers import widgets

    table = widgets.secret_builder(None, server="myregistry.com", username="user3", password="pass3")
    assert isinstance(table, LabTable) and table.iloc[0]["password"] == MASK
    assert isinstance(widgets.policy_tester(lambda i: (True, "ok"), ["a/b:1"]), LabTable)


def test_widgets_fall_back_to_tables_in_headless_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """LAB_HEADLESS=1 (papermill, nbgrader, regress): no ipywidgets, the plain table instead."""
    from labhelpers import _display

    monkeypatch.setattr(_display, "in_notebook", lambda: True)
    monkeypatch.setenv("LAB_HEADLESS", "1")
    assert _display.interactive() is False
    monkeypatch.setenv("LAB_HEADLESS", "0")
    assert _display.interactive() is True
