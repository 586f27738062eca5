"""Shared fixtures: a real embedded PostgreSQL + pgvector for the whole test session.

Each test that asks for ``store_url`` gets its own database, cloned from a migrated
template, so tests never see each other's rows and never need a mock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from atlas2d.schema.database import clone_database, make_engine, start_embedded
from atlas2d.schema.migrate import upgrade
from atlas2d.testdata import REPO

TEMPLATE = "atlas2d_template"


@pytest.fixture(scope="session")
def pg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Data directory of the session's embedded server (ATLAS2D_DATA_DIR of its CLI runs)."""
    return tmp_path_factory.mktemp("atlas2d-data")


@pytest.fixture(scope="session")
def template_url(pg_root: Path) -> str:
    """A migrated database that per-test databases are cloned from."""
    url = start_embedded(pg_root / "pgdata", database=TEMPLATE)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def store_url(template_url: str) -> Iterator[str]:
    """A fresh, migrated, empty store database for one test."""
    yield clone_database(template_url, TEMPLATE, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def session(store_url: str) -> Iterator[Session]:
    """An ORM session on the test's store; commit to make rows visible to other connections."""
    engine = make_engine(store_url)
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def cli_env(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI at the test's store through ATLAS2D_DATABASE_URL."""
    monkeypatch.setenv("ATLAS2D_DATABASE_URL", store_url)
    monkeypatch.delenv("ATLAS2D_READONLY_URL", raising=False)
    return store_url


def run_atlas2d(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``atlas2d`` command line in a subprocess with only the given ATLAS2D_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ATLAS2D_")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "atlas2d", *args], capture_output=True, text=True, env=clean, timeout=timeout, cwd=REPO
    )


@pytest.fixture
def atlas2d() -> Callable[..., subprocess.CompletedProcess[str]]:
    """The ``run_atlas2d`` helper as a fixture: ``atlas2d("status", ATLAS2D_DATA_DIR=...)``."""
    return run_atlas2d
