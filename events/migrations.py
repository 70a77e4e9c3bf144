"""The event store's schema migrations: versioned SQL files applied in order.

Migrations are the files ``events/sql/NNNN_name.sql``; ``events.postgres.migrate``
applies the ones a database has not yet recorded. The runner is small and
hand-written on purpose: the maintained migration tools (alembic, yoyo) drive
psycopg or SQLAlchemy, and asyncpg is the only driver this project uses; the
asyncpg-based ones are unmaintained.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, kw_only=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("events").joinpath("sql").iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(
                Migration(
                    version=int(number), name=rest.removesuffix(".sql"), sql=entry.read_text()
                )
            )
    return sorted(found, key=lambda m: m.version)
