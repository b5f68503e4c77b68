"""Run the lab's kubectl and the seed's small shell snippets from a notebook, passwords masked in what is shown.

:func:`kubectl` runs the pinned kubectl (``labctl tools install-kubectl``) with the current ``KUBECONFIG`` (set by
:func:`labhelpers.connect`), so it talks to the same cluster as the Python helpers. :func:`sh` runs a bash script
(heredocs included) with that kubectl first on ``PATH``. Both show the command and its output (an HTML block in
JupyterLab, plain text elsewhere) with ``--docker-password=****``-style masking; the returned :class:`Result`
keeps the real output for code to use.
"""

from __future__ import annotations

import base64
import html
import os
import re
import shlex
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ._display import FAIL, MASK, LabError, in_notebook
from .tools import kubectl as kubectl_tool

__all__ = ["Result", "kubectl", "mask_text", "sh"]

# flags whose value is a secret: --docker-password=x, --password x, --token=x, --client-secret x ...
_SECRET_FLAGS = r"--(?:docker-password|password|token|client-secret|secret-access-key|aws-secret-access-key)"
_FLAG_EQ = re.compile(rf"({_SECRET_FLAGS}=)(\"[^\"]*\"|'[^']*'|\S+)")
_FLAG_SPACE = re.compile(rf"({_SECRET_FLAGS}\s+)(\"[^\"]*\"|'[^']*'|(?!-)\S+)")
_LOGIN_P = re.compile(r"(\b(?:docker|podman|nerdctl|helm registry|oras|crane auth) login\b[^\n]*?\s-p\s+)(\S+)")
_USER_PASS = re.compile(r"((?:echo\s+-n\s+|printf\s+(?:'%s'\s+)?|curl\b[^\n]*?\s-u\s+)(['\"]?)[^:'\"\s]+:)([^'\"\s]+)")
_JSON_SECRET = re.compile(r'("(?:password|auth|identitytoken|registrytoken|secret|token)"\s*:\s*")((?:[^"\\]|\\.)*)(")',
                          re.IGNORECASE)
_YAML_DOCKERCONFIG = re.compile(r"(\.docker(?:configjson|cfg)[\"']?\s*:\s*[\"']?)([A-Za-z0-9+/=]{8,})")
_FROM_LITERAL = re.compile(r"(--from-literal=(?:[\w.-]*(?:pass|token|secret|key)[\w.-]*)=)(\S+)", re.IGNORECASE)


def _literal_secrets(text: str) -> set[str]:
    """Secret values written literally in a command, so they can be hidden wherever they reappear."""
    found: set[str] = set()
    for rx, group in ((_FLAG_EQ, 2), (_FLAG_SPACE, 2), (_LOGIN_P, 2), (_USER_PASS, 3), (_FROM_LITERAL, 2)):
        for m in rx.finditer(text):
            value = m.group(group).strip("'\"")
            if value and not value.startswith("$") and value != MASK:
                found.add(value)
    return found


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide passwords in a command line, script or output.

    Masks secret flags (``--docker-password=****``), ``docker login -p``, ``user:pass`` given to ``echo -n`` /
    ``curl -u``, JSON ``password``/``auth``/token fields, base64 ``.dockerconfigjson`` values and any of the given
    ``secrets`` (also in their ``user:secret`` base64 form).
    """
    out = _FLAG_EQ.sub(lambda m: m.group(1) + MASK, text)
    out = _FLAG_SPACE.sub(lambda m: m.group(1) + MASK, out)
    out = _LOGIN_P.sub(lambda m: m.group(1) + MASK, out)
    out = _USER_PASS.sub(lambda m: m.group(1) + MASK, out)
    out = _FROM_LITERAL.sub(lambda m: m.group(1) + MASK, out)
    out = _JSON_SECRET.sub(lambda m: m.group(0) if "$" in m.group(2) else m.group(1) + MASK + m.group(3), out)
    out = _YAML_DOCKERCONFIG.sub(lambda m: m.group(1) + f"{MASK} (base64, masked: pass reveal=True to see it)", out)
    for value in sorted(secrets, key=len, reverse=True):
        if len(value) >= 3:
            out = out.replace(value, MASK)
    return out


def _b64_forms(user_pass: Iterable[str]) -> set[str]:
    return {base64.b64encode(v.encode()).decode() for v in user_pass}


@dataclass
class Result:
    """A finished command: ``returncode``, ``stdout``, ``stderr`` as produced (unmasked), and ``ok``."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    shown: str = ""
    secrets: set[str] = field(default_factory=set, repr=False)
    reveal: bool = False
    _displayed: bool = field(default=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def __bool__(self) -> bool:
        return self.ok

    def _mask(self, text: str) -> str:
        return text if self.reveal else mask_text(text, self.secrets)

    @property
    def text(self) -> str:
        """Command and output as displayed (masked unless reveal)."""
        parts = [f"$ {self.shown}"]
        if self.stdout:
            parts.append(self._mask(self.stdout.rstrip("\n")))
        if self.stderr:
            parts.append(self._mask(self.stderr.rstrip("\n")))
        if self.returncode:
            parts.append(f"(exit status {self.returncode})")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        # <pre>, not <div>: keeps multi-line scripts intact, and JupyterLab does not typeset "$...$" in it as math.
        out = [f'<div style="font-family: monospace;"><pre style="margin: 0; white-space: pre-wrap; '
               f'color: #57606a;">$ {html.escape(self.shown)}</pre>']
        if self.stdout:
            out.append(f'<pre style="margin: 0;">{html.escape(self._mask(self.stdout.rstrip()))}</pre>')
        if self.stderr:
            out.append(f'<pre style="margin: 0; color: #cf222e;">{html.escape(self._mask(self.stderr.rstrip()))}</pre>')
        if self.returncode:
            out.append(f'<div style="color: #cf222e;">{FAIL} exit status {self.returncode}</div>')
        return "".join(out) + "</div>"

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _ipython_display_(self) -> None:
        if self._displayed:
            return
        from IPython.display import HTML, display

        display(HTML(self._repr_html_()))

    def show(self) -> Result:
        """Display it (HTML in a notebook, stdout elsewhere) once."""
        if in_notebook():
            from IPython.display import HTML, display

            display(HTML(self._repr_html_()))
        else:
            print(self.text)
        self._displayed = True
        return self


def _binary() -> str:
    path = kubectl_tool.which()
    if not path:
        raise LabError("kubectl is not installed", "run `labctl tools install-kubectl` (or `make setup`)")
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    try:
        bin_dir = str(Path(_binary()).parent)
    except LabError:
        return env
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


def _run(argv: list[str], shown: str, secrets: set[str], *, input: str | None, check: bool, show: bool,
         reveal: bool, timeout: float, cwd: str | Path | None) -> Result:
    try:
        p = subprocess.run(argv, input=input, capture_output=True, text=True, env=_env(), timeout=timeout, cwd=cwd)
        result = Result(argv, p.returncode, p.stdout, p.stderr, shown, secrets, reveal)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        result = Result(argv, 124, out, f"timed out after {timeout:.0f}s", shown, secrets, reveal)
    if show:
        result.show()
    if check and not result.ok:
        first = (result._mask(result.stderr).strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise LabError(f"`{shown.splitlines()[0]}` failed: {first}", "read the output above; fix and re-run the cell")
    return result


def kubectl(*args: str, input: str | None = None, check: bool = False, show: bool = True, reveal: bool = False,
            timeout: float = 120, cwd: str | Path | None = None) -> Result:
    """Run the lab's kubectl with the current KUBECONFIG and show the (masked) command and output.

    Args:
        *args: kubectl arguments, e.g. ``"get", "pods", "-n", "registry-lab"``.
        input: text for stdin (``kubectl apply -f -``).
        check: raise :class:`~labhelpers._display.LabError` (shown without traceback) when kubectl fails.
        show: display the command and output.
        reveal: show passwords in clear.
        timeout: seconds before kubectl is stopped.
        cwd: working directory.

    Returns:
        A :class:`Result` with the real (unmasked) stdout/stderr.
    """
    argv = [_binary(), *args]
    joined = shlex.join(["kubectl", *args])
    secrets = _literal_secrets(joined)
    secrets |= _b64_forms(_user_pass_pairs(args, secrets))
    shown = joined if reveal else mask_text(joined, secrets)
    return _run(argv, shown, secrets, input=input, check=check, show=show, reveal=reveal, timeout=timeout, cwd=cwd)


def _user_pass_pairs(args: Iterable[str], secrets: set[str]) -> set[str]:
    """``user:password`` strings whose base64 would appear in kubectl output (the ``auth`` field)."""
    users = [a.split("=", 1)[1] for a in args if a.startswith("--docker-username=")]
    return {f"{u}:{p}" for u in users for p in secrets}


def sh(script: str, *, input: str | None = None, check: bool = False, show: bool = True, reveal: bool = False,
       timeout: float = 300, cwd: str | Path | None = None) -> Result:
    """Run a bash snippet from the seed (heredocs, pipes, ``$(...)``) with the lab's kubectl first on PATH.

    The script is shown with passwords masked (``--docker-password=****``, ``echo -n 'user:****'``), and so is
    its output. Same options as :func:`kubectl`.
    """
    secrets = _literal_secrets(script)
    secrets |= _b64_forms(m.group(0).split("'")[-1] for m in re.finditer(r"'[^':\s]+:[^'\s]+", script))
    shown = script.strip("\n") if reveal else mask_text(script.strip("\n"), secrets)
    return _run(["bash", "-c", script], shown, secrets, input=input, check=check, show=show, reveal=reveal,
                timeout=timeout, cwd=cwd)
