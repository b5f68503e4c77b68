"""docker/cli's NotaryError wording and trust-server naming."""

from __future__ import annotations

import pytest

from labhelpers.trust.dct.messages import (
    classify,
    no_such_target,
    notary_error,
    repository_not_exist,
    server_host,
    trust_server,
)


def test_unsigned_repository_message_matches_docker() -> None:
    assert repository_not_exist("docker.io/youruser/unsigned-app", "notary.docker.io",
                                "docker.io/youruser/unsigned-app") == (
        "Error: remote trust data does not exist for docker.io/youruser/unsigned-app: "
        "notary.docker.io does not have trust data for docker.io/youruser/unsigned-app")
    assert no_such_target("v1.0") == "No valid trust data for v1.0"


@pytest.mark.parametrize(("index", "override", "expected"), [
    ("docker.io", None, "https://notary.docker.io"),
    ("ghcr.io", None, "https://ghcr.io"),
    ("registry.lab.local:5000", None, "https://registry.lab.local:5000"),
    ("docker.io", "https://127.0.0.1:4443", "https://127.0.0.1:4443"),
])
def test_trust_server(index: str, override: str | None, expected: str) -> None:
    assert trust_server(index, override) == expected


def test_server_host() -> None:
    assert server_host("https://notary.docker.io") == "notary.docker.io"
    assert server_host("https://127.0.0.1:4443/") == "127.0.0.1:4443"


@pytest.mark.parametrize(("error", "kind", "message"), [
    ("127.0.0.1:4443 does not have trust data for docker.io/a/b", "repository_not_exist",
     "Error: remote trust data does not exist for docker.io/a/b: 127.0.0.1:4443 does not have trust data for "
     "docker.io/a/b"),
    ("No valid trust data for v2", "no_such_target", "No valid trust data for v2"),
    ("timestamp expired at Mon Jan  1 00:00:00 UTC 2024", "expired",
     "Error: remote repository docker.io/a/b out-of-date: timestamp expired at Mon Jan  1 00:00:00 UTC 2024"),
    ("could not validate the path to a trusted root: unable to retrieve valid leaf certificates", "root_mismatch",
     "Warning: potential malicious behavior - trust data mismatch for remote repository docker.io/a/b: could not "
     "validate the path to a trusted root: unable to retrieve valid leaf certificates"),
    ("valid signatures did not meet threshold for targets", "threshold",
     "Warning: potential malicious behavior - trust data has insufficient signatures for remote repository "
     "docker.io/a/b: valid signatures did not meet threshold for targets"),
    ("version 1 is lower than current version 3", "low_version",
     "Warning: potential malicious behavior - trust data version is lower than expected for remote repository "
     "docker.io/a/b: version 1 is lower than current version 3"),
    ("timestamp trust data unavailable.  Has a notary repository been initialized?", "meta_not_found",
     "Error: trust data missing for remote repository docker.io/a/b or remote repository not found: timestamp "
     "trust data unavailable.  Has a notary repository been initialized?"),
    ("could not find necessary signing keys, at least one of these keys must be available: abc", "no_keys",
     "Error: could not find signing keys for remote repository docker.io/a/b, or could not decrypt signing key: "
     "could not find necessary signing keys, at least one of these keys must be available: abc"),
    ("something else entirely", "", "something else entirely"),
])
def test_notary_error_mapping(error: str, kind: str, message: str) -> None:
    assert classify(error) == kind
    assert notary_error("docker.io/a/b", error) == (message, kind)
