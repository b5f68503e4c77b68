"""The ECR-style Basic-auth gateway's decisions and refusals, without sockets."""

from __future__ import annotations

import base64
import json

import pytest

from labhelpers.sandbox.registries.auth import Account, AuthenticationFailed, UserTable
from labhelpers.sandbox.registries.gateway import BasicAuthGateway, parse_basic

ECR_REALM = "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/"


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway(clock: FakeClock) -> BasicAuthGateway:
    users = UserTable([Account("AWS", "token-1", expires_at=clock.now + 100),
                       Account("AWS", "token-2", expires_at=clock.now + 200)], clock)
    return BasicAuthGateway(users, lambda: "http://127.0.0.1:1", realm=ECR_REALM, service="ecr.amazonaws.com")


def test_parse_basic_like_go() -> None:
    assert parse_basic(basic("AWS", "a:b")) == ("AWS", "a:b")  # the password keeps its colons
    assert parse_basic("basic " + base64.b64encode(b"u:").decode()) == ("u", "")
    for header in (None, "", "Basic", "Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()):
        assert parse_basic(header) is None, header


def test_every_unexpired_token_is_accepted_until_its_own_expiry(gateway: BasicAuthGateway,
                                                                 clock: FakeClock) -> None:
    assert gateway.authenticate(basic("AWS", "token-1")).password == "token-1"
    assert gateway.authenticate(basic("AWS", "token-2")).password == "token-2"
    clock.now += 150
    with pytest.raises(AuthenticationFailed) as e:
        gateway.authenticate(basic("AWS", "token-1"))
    assert e.value.reason == "expired"
    assert gateway.authenticate(basic("AWS", "token-2")).password == "token-2"


@pytest.mark.parametrize(("header", "reason"), [
    (None, "missing"),
    ("Basic !!!", "missing"),
    (basic("AWS", "guess"), "bad-password"),
    (basic("admin", "token-1"), "unknown-user"),
])
def test_rejections(gateway: BasicAuthGateway, header: str | None, reason: str) -> None:
    with pytest.raises(AuthenticationFailed) as e:
        gateway.authenticate(header)
    assert e.value.reason == reason


@pytest.mark.parametrize("reason", ["missing", "bad-password", "unknown-user"])
def test_unauthorized_is_ecrs_basic_challenge(gateway: BasicAuthGateway, reason: str) -> None:
    r = gateway.refusal(reason)
    assert r.status == 401
    assert r.headers["WWW-Authenticate"] == f'Basic realm="{ECR_REALM}",service="ecr.amazonaws.com"'
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert r.body == b"Not Authorized\n"


def test_expired_is_ecrs_403_denied(gateway: BasicAuthGateway) -> None:
    r = gateway.refusal("expired")
    assert r.status == 403 and "WWW-Authenticate" not in r.headers
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(r.body) == {"errors": [{"code": "DENIED", "message": "Your authorization token has expired. "
                                                                         "Reauthenticate and try again."}]}


def test_challenge_without_service() -> None:
    g = BasicAuthGateway(UserTable(), lambda: "", realm="registry.example")
    assert g.challenge == 'Basic realm="registry.example"'
