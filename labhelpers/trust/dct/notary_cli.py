"""The real Notary client (Debian's ``notary`` binary) as the TUF engine behind the DCT client.

Docker's content trust *is* this client library (docker/cli vendors ``theupdateframework/notary/client``):
same trust-directory layout, same metadata cache, same verification of root/timestamp/snapshot/targets
and delegations, same publish. Driving the binary keeps all of that genuine; the Docker-only parts (prompts,
messages, role selection, inspect output) live in Python next to it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .notary_server import notary_binaries

__all__ = ["NotaryCli", "NotaryCliError", "NotaryCliResult"]

_FATAL = re.compile(r"^\* fatal: (.*)$", re.M)
_UNREACHABLE = re.compile(r'msg="could not reach [^:]+://[^:]+(?::\d+)?: (.*)"$', re.M)
PASSPHRASE_ENV = {"root": "NOTARY_ROOT_PASSPHRASE", "targets": "NOTARY_TARGETS_PASSPHRASE",
                  "snapshot": "NOTARY_SNAPSHOT_PASSPHRASE", "delegation": "NOTARY_DELEGATION_PASSPHRASE"}


class NotaryCliError(RuntimeError):
    """The binary failed; ``error`` is its ``* fatal:`` text (the Go error's ``Error()``)."""

    def __init__(self, args: tuple[str, ...], result: NotaryCliResult) -> None:
        self.result = result
        self.error = result.fatal or result.stderr.strip() or f"notary exited with {result.returncode}"
        super().__init__(f"notary {' '.join(args)}: {self.error}")

    @property
    def unreachable(self) -> str:
        """The transport error behind "client is offline" (from the ping the client logs), or ''."""
        m = _UNREACHABLE.search(self.result.stderr)
        return m.group(1).replace('\\"', '"') if m else ""


@dataclass(frozen=True)
class NotaryCliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def fatal(self) -> str:
        m = _FATAL.search(self.stdout) or _FATAL.search(self.stderr)
        return m.group(1).strip() if m else ""


class NotaryCli:
    """``notary -c <config>`` bound to one server, CA and trust directory; passphrases go via env vars."""

    def __init__(self, server_url: str, trust_dir: str | Path, ca_file: str | Path | None = None, *,
                 binary: str | None = None, timeout: float = 60.0) -> None:
        self.binary = binary or notary_binaries()["notary"]
        if self.binary is None:
            raise FileNotFoundError("the notary client is not installed (apt-get install notary)")
        self.server_url = server_url
        self.trust_dir = Path(trust_dir)
        self.ca_file = Path(ca_file) if ca_file else None
        self.timeout = timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="lab-notary-client-")
        self._finalizer = weakref.finalize(self, self._tmp.cleanup)
        self.config_path = Path(self._tmp.name) / "config.json"
        remote: dict[str, str] = {"url": server_url}
        if self.ca_file:
            remote["root_ca"] = str(self.ca_file)
        self.config_path.write_text(json.dumps({"trust_dir": str(self.trust_dir), "remote_server": remote}))

    def close(self) -> None:
        self._finalizer()

    def run(self, *args: str, passphrases: Mapping[str, str] | None = None, check: bool = True) -> NotaryCliResult:
        """Run one command; ``passphrases`` maps root/targets/snapshot/delegation to the key passphrase."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARY_")}
        for role, value in (passphrases or {}).items():
            env[PASSPHRASE_ENV[role]] = value
        self.trust_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([self.binary, "-c", str(self.config_path), *args], capture_output=True, text=True,
                              env=env, stdin=subprocess.DEVNULL, timeout=self.timeout)
        result = NotaryCliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise NotaryCliError(args, result)
        return result
