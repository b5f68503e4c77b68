"""Docker CLI wording for content-trust failures (docker/cli ``cli/trust/trust.go`` and friends).

Notary errors reach users through ``trust.NotaryError(repoName, err)``, which prefixes the Notary error
according to its Go type; errors of other types (``No valid trust data for v2``, wrapped push failures)
pass through untouched. We only see the Notary CLI's text, so :func:`classify` recognises each type by the
fixed part of its ``Error()`` string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "DOCKER_NOTARY_SERVER",
    "DctError",
    "classify",
    "no_such_target",
    "notary_error",
    "repository_not_exist",
    "server_host",
    "trust_server",
]

DOCKER_NOTARY_SERVER = "https://notary.docker.io"
RELEASED_ROLE_NAME = "Repo Admin"


class DctError(Exception):
    """A content-trust operation failed; ``str()`` is exactly what the docker CLI prints."""

    def __init__(self, message: str, *, kind: str = "", transcript: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.transcript = transcript


def trust_server(index_name: str, override: str | None = None) -> str:
    """``trust.Server``: ``$DOCKER_CONTENT_TRUST_SERVER``, else notary.docker.io for Docker Hub, else the
    registry itself (``https://<index>``)."""
    if override:
        return override
    if index_name in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return DOCKER_NOTARY_SERVER
    return "https://" + index_name


def server_host(url: str) -> str:
    """The ``remote`` Notary puts in its messages: the URL's host[:port]."""
    return urlsplit(url).netloc or url


def repository_not_exist(repo_name: str, remote: str, gun: str) -> str:
    """``client.ErrRepositoryNotExist`` through ``NotaryError``."""
    return f"Error: remote trust data does not exist for {repo_name}: {remote} does not have trust data for {gun}"


def no_such_target(tag: str) -> str:
    """``client.ErrNoSuchTarget`` (``NotaryError`` leaves it alone)."""
    return f"No valid trust data for {tag}"


@dataclass(frozen=True)
class _Kind:
    name: str
    pattern: re.Pattern[str]
    template: str | None  # None: NotaryError returns the error unchanged


_KINDS = (
    _Kind("repository_not_exist", re.compile(r"^\S+ does not have trust data for \S+$"),
          "Error: remote trust data does not exist for {repo}: {err}"),
    _Kind("no_such_target", re.compile(r"^No valid trust data for .*$"), None),
    _Kind("expired", re.compile(r"^\S+ expired at .*$"), "Error: remote repository {repo} out-of-date: {err}"),
    _Kind("key_not_found", re.compile(r"^signing key not found: .*$"),
          "Error: signing keys for remote repository {repo} not found: {err}"),
    _Kind("network", re.compile(r"^(client is offline|network error.*)$"),
          "Error: error contacting notary server: {err}"),
    _Kind("meta_not_found", re.compile(r"^\S+ trust data unavailable\.  Has a notary repository been initialized\?$"),
          "Error: trust data missing for remote repository {repo} or remote repository not found: {err}"),
    _Kind("root_mismatch", re.compile(r"^(could not validate the path to a trusted root|"
                                      r"could not rotate trust to a new trusted root|"
                                      r"key type is not valid for signature).*$"),
          "Warning: potential malicious behavior - trust data mismatch for remote repository {repo}: {err}"),
    _Kind("no_keys", re.compile(r"^could not find necessary signing keys, .*$"),
          "Error: could not find signing keys for remote repository {repo}, or could not decrypt signing key: {err}"),
    _Kind("low_version", re.compile(r"^version \d+ is lower than current version \d+$"),
          "Warning: potential malicious behavior - trust data version is lower than expected for remote "
          "repository {repo}: {err}"),
    _Kind("threshold", re.compile(r"^valid signatures did not meet threshold.*$"),
          "Warning: potential malicious behavior - trust data has insufficient signatures for remote "
          "repository {repo}: {err}"),
    _Kind("insufficient_signatures", re.compile(r"^(signing keys not available|not enough signing keys).*$"),
          "Error: could not produce valid signature for {repo}.  If Yubikey was used, was touch input provided?: "
          "{err}"),
)


def classify(error: str) -> str:
    """The Notary error type behind an ``Error()`` string (``""`` when unknown)."""
    for kind in _KINDS:
        if kind.pattern.match(error):
            return kind.name
    return ""


def notary_error(repo_name: str, error: str) -> tuple[str, str]:
    """``trust.NotaryError``: (docker's message, kind)."""
    for kind in _KINDS:
        if kind.pattern.match(error):
            if kind.template is None:
                return error, kind.name
            return kind.template.format(repo=repo_name, err=error), kind.name
    return error, ""
