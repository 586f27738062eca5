"""One seeded store and one ``atlas2d serve`` process (OPTIMADE API + explorer) for the explorer tests.

The server reads through the read-only role, so the tests share it safely.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from atlas2d.schema.database import make_engine
from atlas2d.testdata.servers import atlas2d_server
from tests.optimade.support import fresh_database
from tests.web.support import Seeded, seed_web_store


@dataclass(frozen=True)
class WebStore:
    url: str
    seeded: Seeded


@pytest.fixture(scope="session")
def web_store(template_url: str) -> Iterator[WebStore]:
    with fresh_database(template_url) as url:
        engine = make_engine(url)
        with Session(engine) as session:
            seeded = seed_web_store(session)
        engine.dispose()
        yield WebStore(url, seeded)


@pytest.fixture(scope="session")
def web_server(web_store: WebStore) -> Iterator[str]:
    """Base URL of ``atlas2d serve`` over the explorer's test store."""
    with atlas2d_server(web_store.url) as base:
        yield base


@pytest.fixture
def web_session(web_store: WebStore) -> Iterator[Session]:
    """A session on the explorer's store, to look ids up (the tests never write)."""
    engine = make_engine(web_store.url)
    with Session(engine) as s:
        yield s
    engine.dispose()
