"""The built wheel installs everything under ``atlas2d`` and lives beside the PyPI packages
``schema`` and ``embeddings``, whose names atlas2d's folders used to take.

The wheel goes into a fresh virtual environment; the heavy dependencies (torch, pymatgen...)
come from this environment's site-packages through a ``.pth`` line, which adds the folder
without running its ``.pth`` files, so the editable atlas2d of the checkout stays invisible.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from atlas2d.testdata import REPO

MODULES = "atlas2d.schema, atlas2d.ingest, atlas2d.embeddings.structure, atlas2d.embeddings.bands, atlas2d.ontology, atlas2d.api"


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_wheel_beside_pypi_schema_and_embeddings_runs_the_demo(tmp_path: Path) -> None:
    source = tmp_path / "source"
    tracked = _run("git", "ls-files", cwd=REPO).stdout.split()
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", ".", cwd=source)
    wheel = next((tmp_path / "dist").glob("atlas2d-*.whl"))

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).stdout.strip())
    (site / "atlas2d_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(python, "-m", "pip", "install", "-q", "--no-deps", wheel, "schema", "embeddings", cwd=tmp_path)

    where = _run(
        python, "-c", f"import {MODULES}, schema, embeddings; print(schema.__file__); print(embeddings.__file__); "
        "print(atlas2d.api.__file__)", cwd=tmp_path,
    ).stdout.splitlines()
    assert all(path.startswith(str(site)) for path in where), where
    assert where[0].endswith("/schema/__init__.py") and where[1].endswith("/embeddings/__init__.py"), where

    clean = {k: v for k, v in os.environ.items() if not k.startswith("ATLAS2D_")}
    demo = _run(env_dir / "bin" / "atlas2d", "demo", cwd=tmp_path, env={**clean, "ATLAS2D_DATA_DIR": str(tmp_path / "data")})
    assert "SHACL: conforms" in demo.stdout and "quarantine" in demo.stdout, demo.stdout[-2000:]
