"""The Binder configuration, read the way repo2docker reads it, and its consistency with pyproject.toml.

repo2docker's rules checked here (from its buildpacks and docs):
- config files come from ``binder/`` when it exists (files elsewhere, like the root environment.yml, are ignored);
  ``binder/`` and ``.binder/`` together are an error; a Dockerfile there would override everything else;
- buildpack precedence: ``environment.yml`` (conda) wins over ``requirements.txt``/``runtime.txt`` (python),
  so the Python one must not have an environment.yml beside it;
- ``runtime.txt`` is ``python-X.Y``; requirements are installed with the repository's root as working directory
  (so ``-e .`` is the project) and a local requirement delays the install until the repository is copied in;
- ``apt.txt``: one package per line, ``#`` starts a comment, each name must match ``^[a-z0-9.+-]+``;
- ``postBuild`` and ``start`` are run as ``./binder/<name>`` (need a shebang, and are made executable; older
  repo2docker needs them executable in git); ``start`` is the entrypoint and must end with ``exec "$@"``.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
BINDER = REPO / "binder"
APT_NAME = re.compile(r"^[a-z0-9.+-]+$")  # repo2docker's check, anchored at both ends as a package name must be


# --- repo2docker's reading of the files (small models of its rules) -------------------------------------------


def binder_dir(repo: Path) -> Path:
    has_binder, has_dot = (repo / "binder").is_dir(), (repo / ".binder").is_dir()
    if has_binder and has_dot:
        raise RuntimeError("binder/ and .binder/ both exist")
    return repo / "binder" if has_binder else repo / ".binder" if has_dot else repo


def buildpack(config: Path) -> str:
    """Which buildpack repo2docker picks, among those this repository could trigger (in its order)."""
    if (config / "Dockerfile").exists():
        return "docker"
    if (config / "environment.yml").exists():
        return "conda"
    runtime = config / "runtime.txt"
    if runtime.exists():
        return "python" if runtime.read_text().strip().startswith("python-") else "other"
    if (config / "requirements.txt").exists():
        return "python"
    return "base"


def apt_packages(text: str) -> list[str]:
    packages = []
    for line in text.splitlines():
        package = line.partition("#")[0].strip()
        if not package:
            continue
        if not APT_NAME.match(package):
            raise ValueError(f"Found invalid package name {package} in apt.txt")
        packages.append(package)
    return packages


def requirement_lines(text: str) -> list[str]:
    return [s for s in (line.partition(" #")[0].strip() for line in text.splitlines()) if s and not
            s.startswith("#")]


def is_local_requirement(line: str) -> bool:
    """repo2docker's test for a requirement that needs the whole repository (a path, or -e path)."""
    line = line.strip()
    if line.startswith("-e"):
        line = line[2:].strip()
    return line.startswith((".", "/", "~")) or line.startswith("file:")


def last_command(script: str) -> str:
    lines = [ln.strip() for ln in script.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return lines[-1] if lines else ""


def git_mode(path: Path) -> str | None:
    """The file's mode in git's index, or None when it is not tracked (read only: nothing is staged)."""
    try:
        out = subprocess.run(["git", "ls-files", "-s", "--", str(path.relative_to(REPO))], cwd=REPO,
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.split()[0] if out.strip() else None


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def python_floor(spec: str) -> Version:
    floors = [Version(s.version) for s in SpecifierSet(spec) if s.operator in (">=", "==", "~=")]
    assert floors, f"no lower bound in {spec!r}"
    return max(floors)


# --- the models themselves reject what repo2docker rejects -----------------------------------------------------


def test_models_reject_what_repo2docker_rejects(tmp_path):
    with pytest.raises(ValueError, match="invalid package name"):
        apt_packages("docker-registry\nDocker_Registry\n")
    with pytest.raises(ValueError):
        apt_packages("docker-registry notary\n")  # two packages on one line
    assert apt_packages("# c\n\n  notary  # the CLI\n") == ["notary"]
    (tmp_path / "binder").mkdir()
    (tmp_path / ".binder").mkdir()
    with pytest.raises(RuntimeError):
        binder_dir(tmp_path)
    (tmp_path / ".binder").rmdir()
    (tmp_path / "binder" / "requirements.txt").write_text("-e .\n")
    assert buildpack(binder_dir(tmp_path)) == "python"
    (tmp_path / "binder" / "environment.yml").write_text("dependencies: [python=3.11]\n")
    assert buildpack(binder_dir(tmp_path)) == "conda"
    assert last_command('#!/bin/bash\nexport A=1\nexec "$@"\n# done\n') == 'exec "$@"'
    assert last_command("#!/bin/bash\nexec jupyter lab\n") != 'exec "$@"'
    assert is_local_requirement("-e .") and is_local_requirement("./pkg") and not is_local_requirement("aiohttp")


# --- the repository's Binder files -----------------------------------------------------------------------------


def test_binder_folder_is_the_only_config_and_python_buildpack_is_used():
    config = binder_dir(REPO)
    assert config == BINDER, "binder/ must exist (and .binder/ must not)"
    assert not (BINDER / "Dockerfile").exists(), "a Dockerfile would make repo2docker ignore every other file"
    # environment.yml would take precedence and requirements.txt (the project) would be silently ignored
    assert not (BINDER / "environment.yml").exists()
    assert buildpack(config) == "python"


def test_runtime_python_satisfies_requires_python(pyproject):
    runtime = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert m, f"runtime.txt must be python-X.Y, got {runtime!r}"
    version = Version(f"{m[1]}.{m[2]}")
    requires = pyproject["project"]["requires-python"]
    assert version in SpecifierSet(requires), f"{version} does not satisfy requires-python {requires}"


def test_requirements_install_the_project_from_pyproject():
    lines = requirement_lines((BINDER / "requirements.txt").read_text())
    # pyproject.toml is the one list of dependencies: Binder installs the project itself, editable (notebooks
    # and labctl import it from the repository), from the root where repo2docker runs pip.
    assert lines == ["-e ."]
    assert all(is_local_requirement(ln) for ln in lines)


def test_apt_txt_lists_the_sandbox_system_packages_one_per_line():
    text = (BINDER / "apt.txt").read_text()
    packages = apt_packages(text)
    assert {"docker-registry", "notary"} <= set(packages)
    for line in text.splitlines():
        package = line.partition("#")[0].strip()
        assert " " not in package and "\t" not in package, f"one package per line: {line!r}"
    assert len(packages) == len(set(packages))


def test_apt_txt_packages_are_the_ones_ci_tests_the_sandbox_with():
    """Every system package Binder installs is one CI installs too, so CI exercises what Binder runs."""
    ci = (REPO / ".ci" / "run").read_text()
    lines = re.findall(r"apt-get install([^\n]*)", ci)
    assert lines, "no apt-get install line in .ci/run"
    ci_packages = {w for line in lines for w in line.split() if APT_NAME.match(w) and not w.startswith("-")}
    assert set(apt_packages((BINDER / "apt.txt").read_text())) <= ci_packages


@pytest.mark.parametrize("name", ["postBuild", "start"])
def test_scripts_are_executable_bash_with_a_shebang(name):
    path = BINDER / name
    text = path.read_text()
    assert text.startswith("#!/bin/bash\n") or text.startswith("#!/usr/bin/env bash\n")
    assert os.access(path, os.X_OK), f"chmod +x binder/{name}"
    mode = git_mode(path)
    assert mode in (None, "100755"), f"binder/{name} is {mode} in git: git update-index --chmod=+x"
    r = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_start_execs_the_command_and_points_kubeconfig_at_the_sandbox():
    text = (BINDER / "start").read_text()
    assert last_command(text) == 'exec "$@"'
    assert re.search(r"^labctl sandbox up\b", text, re.M)
    assert re.search(r"^export KUBECONFIG=", text, re.M)
    # start must not abort before exec: a failing sandbox must not keep Jupyter from starting
    assert not re.search(r"^\s*set -[a-z]*e", text, re.M)


def test_post_build_stops_on_errors_and_installs_the_pinned_kubectl():
    text = (BINDER / "postBuild").read_text()
    commands = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert re.match(r"set -[a-z]*e", commands[0]), "postBuild must start with set -e"
    assert any(re.match(r"labctl tools install-kubectl\b", c) for c in commands)
    # the student release is only generated when the grading tooling is there
    nb_lines = [c for c in commands if "nbgrader" in c]
    assert nb_lines and nb_lines[0].startswith("if ") and "grading/" in nb_lines[0]


def test_pyproject_has_what_the_binder_image_relies_on(pyproject):
    deps = {Requirement(d).name.lower(): Requirement(d) for d in pyproject["project"]["dependencies"]}
    # JupyterLab 4 and ipywidgets 8: the widget front end is a prebuilt extension, so postBuild enables nothing
    assert python_floor(str(deps["jupyterlab"].specifier)) >= Version("4")
    assert python_floor(str(deps["ipywidgets"].specifier)) >= Version("8")
    assert "papermill" in deps and "nbgrader" in deps
    assert "labctl" in pyproject["project"]["scripts"], "postBuild and start call labctl"


def test_root_environment_yml_installs_the_same_project(pyproject):
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert isinstance(env, dict), "environment.yml must be a mapping"
    deps = env["dependencies"]
    pythons = [d for d in deps if isinstance(d, str) and re.match(r"python\s*[<>=!~]", d)]
    assert len(pythons) == 1
    spec = pythons[0][len("python"):].strip()
    requires = pyproject["project"]["requires-python"]
    assert python_floor(spec) == python_floor(requires), f"conda {spec} vs requires-python {requires}"
    assert "pip" in deps
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert pip_sections == [["-e ."]], "the conda env installs the project; pyproject.toml lists its dependencies"
    # Binder and conda install the same thing, with a Python both accept
    assert requirement_lines((BINDER / "requirements.txt").read_text()) == pip_sections[0]
    runtime = Version((BINDER / "runtime.txt").read_text().strip().removeprefix("python-"))
    assert runtime in SpecifierSet(spec)
