"""One seeded store and one ``atlas2d serve`` process shared by the OPTIMADE tests.

The API is read-only, so sharing them is safe, and the hostile-filter test checks that the
store is unchanged afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atlas2d.testdata.servers import atlas2d_server
from tests.optimade.support import Expected, fresh_database, seed


@pytest.fixture(scope="session")
def store(template_url: str) -> Iterator[tuple[str, dict[str, Expected]]]:
    """URL of a store with the OPTIMADE test entries, and what each entry is."""
    with fresh_database(template_url) as url:
        yield url, seed(url)


@pytest.fixture(scope="session")
def server(store: tuple[str, dict[str, Expected]]) -> Iterator[str]:
    """Base URL of ``atlas2d serve`` over ``store``."""
    with atlas2d_server(store[0]) as base:
        yield base
