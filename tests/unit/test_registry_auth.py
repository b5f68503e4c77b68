"""Registry auth logic without processes: challenges, scopes, user table expiry, token issuance."""

from __future__ import annotations

import base64
import json

import bcrypt
import pytest
from cryptography import x509

from labhelpers.sandbox.registries import auth, client
from labhelpers.sandbox.registries.catalog import GCP_KEY_JSON


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------------------------- parsing


def test_parse_bearer_challenge_with_comma_in_scope() -> None:
    value = ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
             'scope="repository:youruser/app:pull,push",error="insufficient_scope"')
    [c] = client.parse_www_authenticate(value)
    assert c.scheme == "Bearer"
    assert c.realm == "https://auth.docker.io/token"
    assert c.service == "registry.docker.io"
    assert c.scope == "repository:youruser/app:pull,push"
    assert c.params["error"] == "insufficient_scope"


def test_parse_basic_and_multiple_challenges() -> None:
    cs = client.parse_www_authenticate('Basic realm="lab registry", Bearer realm="http://t/token",service=s')
    assert [(c.scheme, dict(c.params)) for c in cs] == [
        ("Basic", {"realm": "lab registry"}), ("Bearer", {"realm": "http://t/token", "service": "s"})]


def test_go_query_matches_containerd_token_url() -> None:
    # docker/docs#22787: containerd's failing token GET, url.Values.Encode() ordering and escaping
    q = client.go_query({"service": "registry.docker.io", "scope": ["repository:docker/welcome-to-docker:pull"]})
    assert q == "scope=repository%3Adocker%2Fwelcome-to-docker%3Apull&service=registry.docker.io"
    assert client.go_query({"scope": "a b"}) == "scope=a+b"


def test_parse_error_body_variants() -> None:
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}'
    assert client.parse_error_body(body) == [client.ErrorDetail("MANIFEST_UNKNOWN", "manifest unknown",
                                                                {"Tag": "nope"})]
    assert client.parse_error_body(b'{"details":"incorrect username or password"}')[0].message == \
        "incorrect username or password"
    assert client.parse_error_body(b"404 page not found\n") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("repository:youruser/app:pull", ("repository", "youruser/app", ("pull",))),
    ("repository:a/b:pull,push", ("repository", "a/b", ("pull", "push"))),
    ("registry:catalog:*", ("registry", "catalog", ("*",))),
    ("repository(plugin):x/y:pull", ("repository(plugin)", "x/y", ("pull",))),
])
def test_scope_parse(text: str, expected: tuple) -> None:
    s = auth.Scope.parse(text)
    assert (s.type, s.name, s.actions) == expected
    assert str(s) == text


def test_scope_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        auth.Scope.parse("repository:onlytwo")


# ------------------------------------------------------------------------------------------ user table


def test_user_table_expiry_follows_sandbox_clock() -> None:
    clock = FakeClock()
    table = auth.UserTable([auth.Account("AWS", "tok", expires_at=clock.now + 12 * 3600)], clock)
    assert table.authenticate("AWS", "tok").username == "AWS"
    clock.now += 12 * 3600 - 1
    table.authenticate("AWS", "tok")
    clock.now += 1
    with pytest.raises(auth.AuthenticationFailed) as e:
        table.authenticate("AWS", "tok")
    assert e.value.reason == "expired"
    assert table.valid() == []


def test_user_table_reasons_and_duplicate_usernames() -> None:
    table = auth.UserTable([auth.Account("admin", "p1"), auth.Account("admin", "p2")])
    assert table.authenticate("admin", "p2").password == "p2"
    with pytest.raises(auth.AuthenticationFailed, match="bad-password"):
        table.authenticate("admin", "p3")
    with pytest.raises(auth.AuthenticationFailed, match="unknown-user"):
        table.authenticate("nobody", "p1")
    assert table.remove("admin", "p1") == 1
    with pytest.raises(auth.AuthenticationFailed):
        table.authenticate("admin", "p1")


def test_json_key_password_ignores_whitespace_but_not_content() -> None:
    acct = auth.Account("_json_key", GCP_KEY_JSON, password_format="json")
    assert acct.password_matches(json.dumps(json.loads(GCP_KEY_JSON)))
    assert acct.password_matches(GCP_KEY_JSON.strip())
    tampered = json.loads(GCP_KEY_JSON) | {"private_key_id": "0" * 40}
    assert not acct.password_matches(json.dumps(tampered))
    assert not acct.password_matches("not json")


def test_grants_are_per_repository() -> None:
    acct = auth.Account("u", "p", (auth.Grant("youruser/*", frozenset({"pull"})),
                                   auth.Grant("youruser/app", frozenset({"push"}))))
    assert acct.actions_for("youruser/app") == {"pull", "push"}
    assert acct.actions_for("youruser/deep/name") == {"pull"}
    assert acct.actions_for("other/app") == set()


# ---------------------------------------------------------------------------------------------- htpasswd


def test_htpasswd_line_is_low_cost_bcrypt() -> None:
    line = auth.htpasswd_line("user3", "pass3")
    user, hashed = line.split(":", 1)
    assert user == "user3"
    assert hashed.startswith(f"$2b$0{auth.HTPASSWD_BCRYPT_ROUNDS}$")
    assert bcrypt.checkpw(b"pass3", hashed.encode())
    assert not bcrypt.checkpw(b"pass4", hashed.encode())


def test_htpasswd_long_password_hashes_its_72_byte_prefix() -> None:
    pw = "x" * 72 + "tail"
    hashed = auth.htpasswd_line("AWS", pw).split(":", 1)[1].encode()
    assert bcrypt.checkpw(pw.encode()[:72], hashed)


def test_htpasswd_rejects_colon_in_username() -> None:
    with pytest.raises(ValueError):
        auth.htpasswd_line("a:b", "p")


# ------------------------------------------------------------------------------------------ token issuing


@pytest.fixture(scope="module")
def signer() -> auth.TokenSigner:
    return auth.TokenSigner.generate()


def _server(signer: auth.TokenSigner, anonymous: str = "scoped", clock: FakeClock | None = None
            ) -> auth.TokenServer:
    users = auth.UserTable([
        auth.Account("user1", "pass1", (auth.Grant("youruser/*", frozenset({"pull"})),)),
        auth.Account("AWS", "tok", expires_at=100.0),
    ], clock or FakeClock(0.0))
    realm = auth.TokenRealm("registry.docker.io", users, {"library/nginx"}, anonymous)  # type: ignore[arg-type]
    return auth.TokenServer(realm, signer, wall_clock=lambda: 1_700_000_000.0)


def test_token_is_es256_with_x5c_chaining_to_the_bundle(signer: auth.TokenSigner) -> None:
    body = _server(signer).issue("user1", "pass1", [auth.Scope.parse("repository:youruser/app1:pull")])
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    header, claims = auth.decode_jwt_unverified(body["token"])
    assert header["alg"] == "ES256"
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    leaf.verify_directly_issued_by(signer.ca_cert)
    assert signer.verify(body["token"]) == claims
    assert claims["iss"] == "lab-token-issuer" and claims["aud"] == "registry.docker.io"
    assert claims["sub"] == "user1"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["access"] == [{"type": "repository", "name": "youruser/app1", "actions": ["pull"]}]


def test_token_access_is_filtered_to_grants(signer: auth.TokenSigner) -> None:
    body = _server(signer).issue("user1", "pass1", auth.parse_scopes(
        ["repository:youruser/app1:pull,push", "repository:private/image:pull"]))
    _, claims = auth.decode_jwt_unverified(body["token"])
    assert claims["access"] == [
        {"type": "repository", "name": "youruser/app1", "actions": ["pull"]},
        {"type": "repository", "name": "private/image", "actions": []},
    ]


def test_anonymous_scoped_gets_public_pull_only(signer: auth.TokenSigner) -> None:
    srv = _server(signer)
    body = srv.issue(None, None, auth.parse_scopes(["repository:library/nginx:pull,push",
                                                    "repository:youruser/app1:pull"]))
    _, claims = auth.decode_jwt_unverified(body["token"])
    assert claims["sub"] == ""
    assert [a["actions"] for a in claims["access"]] == [["pull"], []]


def test_anonymous_forbidden_realm_refuses_private(signer: auth.TokenSigner) -> None:
    srv = _server(signer, anonymous="forbidden")
    with pytest.raises(auth.TokenDenied) as e:
        srv.issue(None, None, [auth.Scope.parse("repository:youruser/app2:pull")])
    assert e.value.status == 403
    assert e.value.body() == {"errors": [{"code": "DENIED", "message": "requested access to the resource is denied",
                                          "detail": None}]}
    srv.issue(None, None, [auth.Scope.parse("repository:library/nginx:pull")])  # public still fine


def test_bad_and_expired_credentials(signer: auth.TokenSigner) -> None:
    clock = FakeClock(50.0)
    srv = _server(signer, clock=clock)
    with pytest.raises(auth.TokenDenied) as e:
        srv.issue("user1", "wrong", [])
    assert (e.value.status, e.value.message) == (401, "incorrect username or password")
    srv.issue("AWS", "tok", [])
    clock.now = 100.0
    with pytest.raises(auth.TokenDenied) as e:
        srv.issue("AWS", "tok", [])
    assert e.value.status == 401 and "expired" in e.value.message


def test_signer_persists_and_reloads(tmp_path) -> None:
    a = auth.TokenSigner.load_or_create(tmp_path)
    b = auth.TokenSigner.load_or_create(tmp_path)
    assert a.cert == b.cert and a.ca_bundle == b.ca_bundle == tmp_path / "token-ca.pem"
    assert (tmp_path / "token-signing-key.pem").stat().st_mode & 0o777 == 0o600
    b.verify(a.sign({"x": 1}))
