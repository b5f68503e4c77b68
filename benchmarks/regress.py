"""Regression-run figures: the wall time of a full ``labctl regress`` and of its floor.

The floor is the same number of empty notebooks run the same way (a worker, papermill, a warm kernel that
imports the lab's libraries while a fresh sandbox boots, the sandbox down again; no cells): what the harness
costs before any lesson runs. The bare floor skips the warm kernel's imports (``--no-preload``), for comparison.
Target: the full run within 2x the floor. Prints figures; asserts nothing.
Run: .venv/bin/python benchmarks/regress.py [--parallel N] [--notebooks GLOB ...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import nbformat

from labhelpers import regress

REPO = Path(__file__).resolve().parents[1]


def timed_run(notebooks: list[Path], output: Path, parallel: int,
              preload: tuple[str, ...] = regress.DEFAULT_PRELOAD) -> tuple[float, list[regress.NotebookResult]]:
    cfg = regress.RegressConfig(notebooks=notebooks, output=output, parallel=parallel, preload=preload)
    t0 = time.monotonic()
    results = regress.run(cfg)
    return time.monotonic() - t0, results


def empty_notebooks(folder: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = folder / f"empty-{i:02d}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parallel", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--notebooks", nargs="+", default=[str(REPO / regress.DEFAULT_NOTEBOOKS)])
    args = ap.parse_args()
    notebooks = regress.find_notebooks(args.notebooks)
    with tempfile.TemporaryDirectory(prefix="bench-regress-") as tmp:
        tmp_path = Path(tmp)
        if notebooks:
            full, results = timed_run(notebooks, tmp_path / "full", args.parallel)
            print(regress.summary_markdown(results, wall=full))
        else:
            full, results = 0.0, []
            print(f"no notebooks match {' '.join(args.notebooks)}: measuring the floor only")
        n = len(notebooks) or 4
        (tmp_path / "empty").mkdir()
        empties = empty_notebooks(tmp_path / "empty", n)
        floor, _ = timed_run(empties, tmp_path / "floor", args.parallel)
        bare, _ = timed_run(empties, tmp_path / "bare", args.parallel, preload=())

    print(f"notebooks: {n}, parallel: {args.parallel}")
    if results:
        ok = sum(r.ok() for r in results)
        print(f"full regression run: {full:7.1f} s   ({ok}/{len(results)} passed, "
              f"{full / n:.1f} s per notebook)")
    print(f"floor (empty):       {floor:7.1f} s   ({floor / n:.1f} s per notebook: worker, warm kernel with the "
          "lab's imports, sandbox up/down)")
    print(f"bare floor:          {bare:7.1f} s   (the same without the warm kernel's imports: --no-preload)")
    if results:
        print(f"ratio full/floor:    {full / floor:7.2f}   (target <= 2.0)")
        print(f"ratio full/bare:     {full / bare:7.2f}   (what the notebooks cost beyond starting empty ones)")


if __name__ == "__main__":
    main()
