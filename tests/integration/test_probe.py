"""probe_registry against a real registry fleet: the curl -v view of Exercise 16, step by step."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from labhelpers.probe import COLUMNS, LabDNS, probe_registry
from labhelpers.sandbox.registries import RegistryFleet
from labhelpers.sandbox.registries.distribution import registry_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(registry_binary() is None,
                       reason="/usr/bin/docker-registry missing: apt-get install docker-registry"),
]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryFleet]:
    f = RegistryFleet()
    f.start(tmp_path_factory.mktemp("probe-registries"))
    yield f
    f.stop()


@pytest.fixture(scope="module")
def dns(fleet: RegistryFleet) -> LabDNS:
    return LabDNS.from_info(fleet.info())


def _row(df: pd.DataFrame, step: str) -> pd.Series:
    rows = df[df.step == step]
    assert len(rows) == 1, df.to_string()
    return rows.iloc[0]


def _assert_no_secret(df: pd.DataFrame, secret: str) -> None:
    for col in COLUMNS:
        assert not df[col].astype(str).str.contains(secret, regex=False).any(), df.to_string()


def test_anonymous_docker_hub_shows_the_bearer_handshake(dns: LabDNS) -> None:
    df = probe_registry("https://index.docker.io/v2/", resolve=dns)
    assert list(df.columns) == COLUMNS
    assert list(df.step) == ["connect", "request", "challenge", "token", "retry", "result"]
    assert _row(df, "connect").detail.startswith("Connected to index.docker.io (127.0.0.1) port 443")
    first = _row(df, "request")
    assert (first.request, first.status) == ("GET https://index.docker.io/v2/", "401 Unauthorized")
    assert first.detail == "UNAUTHORIZED: authentication required"
    # the realm is shown under its public name, not the sandbox's loopback token server
    assert _row(df, "challenge").request == ('WWW-Authenticate: Bearer realm="https://auth.docker.io/token",'
                                             'service="registry.docker.io"')
    assert df.attrs["challenge"] == {"scheme": "Bearer", "realm": "https://auth.docker.io/token",
                                     "service": "registry.docker.io", "scope": ""}
    token = _row(df, "token")
    assert token.request == "GET https://auth.docker.io/token?service=registry.docker.io (anonymous)"
    assert token.status == "200 OK" and "JWT for (anonymous)" in token.detail
    assert _row(df, "result").status == "200 OK" and df.attrs["status"] == 200 and df.attrs["lab"] is True


def test_bearer_with_right_and_wrong_password(dns: LabDNS) -> None:
    ok = probe_registry("https://index.docker.io/v2/", "your-username", "your-password", resolve=dns)
    assert "JWT for your-username" in _row(ok, "token").detail
    assert ok.attrs["status"] == 200
    _assert_no_secret(ok, "your-password")
    bad = probe_registry("https://index.docker.io/v2/", "your-username", "not-the-password", resolve=dns)
    token = _row(bad, "token")
    assert (token.status, token.detail) == ("401 Unauthorized", "UNAUTHORIZED: incorrect username or password")
    assert token.request.endswith("(-u your-username:****)")
    assert "retry" not in set(bad.step) and bad.attrs["status"] == 401
    _assert_no_secret(bad, "not-the-password")


def test_basic_registry_anonymous_challenge(dns: LabDNS) -> None:
    df = probe_registry("myregistry.com", resolve=dns)  # no scheme, no path: https://myregistry.com/v2/
    assert list(df.step) == ["connect", "request", "challenge", "result"]
    assert _row(df, "request").request == "GET https://myregistry.com/v2/"
    assert _row(df, "challenge").request == 'WWW-Authenticate: Basic realm="myregistry.com"'
    assert df.attrs["challenge"]["scheme"] == "Basic"
    result = _row(df, "result")
    assert result.status == "401 Unauthorized"
    assert result.detail.startswith("UNAUTHORIZED: authentication required")


def test_basic_registry_right_and_wrong_password(dns: LabDNS) -> None:
    ok = probe_registry("https://myregistry.com/v2/", "user3", "pass3", resolve=dns)
    assert list(ok.step) == ["connect", "request", "result"]
    assert _row(ok, "request").request == "GET https://myregistry.com/v2/ (-u user3:****)"
    assert _row(ok, "result").status == "200 OK"
    _assert_no_secret(ok, "pass3")
    bad = probe_registry("https://myregistry.com/v2/", "user3", "guessed-wrong", resolve=dns)
    assert bad.attrs["status"] == 401
    assert "the registry rejected the username or password" in _row(bad, "result").detail
    _assert_no_secret(bad, "guessed-wrong")


def test_scoped_challenge_and_forbidden_anonymous_token(dns: LabDNS) -> None:
    df = probe_registry("https://ghcr.io/v2/youruser/app2/manifests/v1.0", resolve=dns)
    assert df.attrs["challenge"]["scope"] == "repository:youruser/app2:pull"
    token = _row(df, "token")
    assert token.status == "403 Forbidden"
    assert token.detail == "DENIED: requested access to the resource is denied"


def test_plain_mapping_resolves_lab_hosts(fleet: RegistryFleet) -> None:
    url = fleet.resolve("myregistry.com")
    df = probe_registry("https://myregistry.com/v2/", "user3", "pass3", resolve={"myregistry.com": url})
    assert df.attrs["lab"] is True and df.attrs["status"] == 200


def test_unresolvable_real_host_is_a_curl_dns_error() -> None:
    df = probe_registry("https://registry.invalid/v2/", resolve={})
    assert list(df.step) == ["connect", "result"]
    assert _row(df, "connect").detail == "Could not resolve host: registry.invalid"
    assert _row(df, "result").detail == "curl: (6) Could not resolve host: registry.invalid"
    assert df.attrs["status"] is None and df.attrs["lab"] is False


def test_dead_registry_is_connection_refused(fleet: RegistryFleet, dns: LabDNS) -> None:
    process = fleet.registry("registry.lab.local:5000")
    process.kill()
    try:
        df = probe_registry("https://registry.lab.local:5000/v2/", "labuser", "labpass", resolve=dns)
    finally:
        process.start()
    assert list(df.step) == ["connect", "result"]
    connect, result = _row(df, "connect"), _row(df, "result")
    assert connect.status == "failed"
    assert connect.detail == "connect to registry.lab.local port 5000 failed: Connection refused"
    assert result.detail.startswith("curl: (7) Failed to connect to registry.lab.local port 5000 after ")
    assert result.detail.endswith(" ms: Couldn't connect to server")
    _assert_no_secret(df, "labpass")
    # and back up again
    assert probe_registry("https://registry.lab.local:5000/v2/", "labuser", "labpass",
                          resolve=dns).attrs["status"] == 200
