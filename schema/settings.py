"""Where the store lives, as one value that is built once and handed down.

The command line builds a ``Settings`` from its options and the ``ATLAS2D_*`` environment
variables (README, "Configuration") before any command runs; everything below it receives
the settings, or a URL taken from them, as a parameter. Nothing else reads the
environment, so a test, a benchmark or a server can run several stores in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    """The user data directory (``~/.local/share/atlas2d`` on Linux), the embedded server's home."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("atlas2d"))


@dataclass(frozen=True)
class Settings:
    """How atlas2d reaches its store.

    ``database_url`` names any PostgreSQL >= 15 with the ``vector`` extension; None means the
    embedded server in ``data_dir``. ``readonly_url`` is what read-only work connects with;
    None means the main URL with the user ``atlas2d_reader``. ``sql_url`` is what ``atlas2d sql``
    connects with; None means the main URL with the user ``atlas2d_sql``.
    """

    database_url: str | None = None
    readonly_url: str | None = None
    sql_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)

    @property
    def pgdata(self) -> Path:
        """The embedded server's cluster directory inside ``data_dir``."""
        return self.data_dir / "pgdata"
