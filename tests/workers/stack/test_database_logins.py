"""The embedded PostgreSQL's three logins, against the real server.

The superuser reaches the server only through its Unix socket; the owner migrates; the
application login (``sharehub_app``) adds and reads, and can become nobody who may do more.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from events.migrations import available_migrations
from events.postgres import PostgresEventStore, migrate
from tests.conftest import with_database
from tests.events.conftest import MASTER_KEY
from tests.events.sample_events import OFFICER, concern
from workers.stack.embedded import EmbeddedPostgres, free_port


@dataclass(frozen=True)
class Logins:
    owner_url: str
    app_url: str


@pytest.fixture
async def migrated(embedded_postgres: EmbeddedPostgres) -> AsyncIterator[Logins]:
    """A database of the test's own set up as ``sharehub up`` sets up ``sharehub``: owned by
    the owner, who migrated it."""
    name = f"sharehub_logins_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(embedded_postgres.url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" OWNER "{embedded_postgres.owner}"')
        logins = Logins(
            owner_url=with_database(embedded_postgres.owner_url, name),
            app_url=with_database(embedded_postgres.app_url, name),
        )
        await migrate(logins.owner_url)
        yield logins
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A folder the server's system user may traverse (pytest's own may be private)."""
    folder = Path(tempfile.mkdtemp(prefix="sharehub-test-logins-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# --- logging in -----------------------------------------------------------------------


def test_the_password_files_are_readable_by_their_owner_only(
    embedded_postgres: EmbeddedPostgres,
) -> None:
    for password_file in (
        embedded_postgres.owner_password_file,
        embedded_postgres.app_password_file,
    ):
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        assert len(password_file.read_bytes()) == 44  # 32 random bytes, base64


async def test_the_superuser_cannot_log_in_over_tcp(embedded_postgres: EmbeddedPostgres) -> None:
    for password in ("", ":postgres"):
        url = f"postgresql://postgres{password}@127.0.0.1:{embedded_postgres.port}/sharehub"
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="rejects"):
            await asyncpg.connect(url)
    # ... but through the socket, as the fixtures set up
    admin = await asyncpg.connect(embedded_postgres.url)
    try:
        assert await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = session_user")
    finally:
        await admin.close()


async def test_a_login_needs_its_password(embedded_postgres: EmbeddedPostgres) -> None:
    port = embedded_postgres.port
    for login in ("sharehub_app", "sharehub_owner"):
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(f"postgresql://{login}:guessed@127.0.0.1:{port}/sharehub")


async def test_the_logins_hold_no_power_beyond_their_grants(
    embedded_postgres: EmbeddedPostgres,
) -> None:
    admin = await asyncpg.connect(embedded_postgres.url)
    try:
        roles = await admin.fetch(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,"
            " rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$%' AS scram"
            " FROM pg_authid WHERE rolname IN ('sharehub_app', 'sharehub_owner')"
        )
        memberships = await admin.fetchval(
            "SELECT count(*) FROM pg_auth_members WHERE member = 'sharehub_app'::regrole"
        )
    finally:
        await admin.close()
    assert sorted((r["rolname"], *list(r.values())[1:]) for r in roles) == [
        ("sharehub_app", False, False, False, False, False, True, True),
        ("sharehub_owner", False, False, False, False, False, True, True),
    ]
    assert memberships == 0


# --- what the application login may do ------------------------------------------------


async def test_the_application_login_appends_and_reads_through_the_store(
    migrated: Logins,
) -> None:
    async with await PostgresEventStore.open(migrated.app_url, master_key=MASTER_KEY) as store:
        [recorded] = await store.append(
            "request-1", [concern().to_new_event(actor=OFFICER)], expected_version=0
        )
        assert [e.event_id for e in await store.read_stream("request-1")] == [recorded.event_id]
        assert (await store.ping()).startswith("PostgreSQL 18")
    connection = await asyncpg.connect(migrated.app_url)
    try:
        assert await connection.fetchval("SELECT session_user") == "sharehub_app"
    finally:
        await connection.close()


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE events DISABLE TRIGGER events_append_only",
        "ALTER TABLE events DISABLE TRIGGER USER",
        "ALTER TABLE events OWNER TO sharehub_app",
        "UPDATE events SET type = 'x'",
        "DELETE FROM events",
        "TRUNCATE events",
        "DROP TABLE events",
        "ALTER TABLE signed_checkpoints DISABLE TRIGGER USER",
        "UPDATE signed_checkpoints SET signed_at = now()",
        "DELETE FROM signed_checkpoints",
        "TRUNCATE signed_checkpoints",
        "ALTER TABLE subject_keys DISABLE TRIGGER USER",
        "DELETE FROM subject_keys",
        "CREATE TABLE mine (x integer)",
        "CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE sql AS 'SELECT NULL'",
    ],
)
async def test_the_application_login_cannot_change_the_record_even_after_reset_role(
    migrated: Logins, statement: str
) -> None:
    connection = await asyncpg.connect(migrated.app_url)
    try:
        await connection.execute("RESET ROLE")
        assert await connection.fetchval("SELECT current_user") == "sharehub_app"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(statement)
    finally:
        await connection.close()


async def test_the_application_login_can_become_no_other_role(migrated: Logins) -> None:
    connection = await asyncpg.connect(migrated.app_url)
    try:
        others = await connection.fetch(
            "SELECT quote_ident(rolname) FROM pg_roles WHERE rolname <> 'sharehub_app'"
        )
        assert {"postgres", "sharehub_owner", "pg_read_all_data"} <= {r[0] for r in others}
        for (role,) in others:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(f"SET ROLE {role}")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(f"SET SESSION AUTHORIZATION {role}")
    finally:
        await connection.close()


async def test_a_new_table_or_function_is_reachable_only_through_its_own_grant(
    migrated: Logins,
) -> None:
    owner = await asyncpg.connect(migrated.owner_url)
    app = await asyncpg.connect(migrated.app_url)
    try:
        await owner.execute(
            "CREATE TABLE later (x integer);"
            " CREATE FUNCTION later_count() RETURNS bigint LANGUAGE sql"
            " AS 'SELECT count(*) FROM later'"
        )
        for statement in ("SELECT * FROM later", "INSERT INTO later VALUES (1)"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute(statement)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="function later_count"):
            await app.execute("SELECT later_count()")
        await owner.execute(
            "GRANT SELECT, INSERT ON later TO sharehub_app;"
            " GRANT EXECUTE ON FUNCTION later_count() TO sharehub_app"
        )
        await app.execute("INSERT INTO later VALUES (1)")
        assert await app.fetchval("SELECT later_count()") == 1
    finally:
        await app.close()
        await owner.close()


# --- a data folder from before there were logins --------------------------------------


class PostgresBeforeLogins(EmbeddedPostgres):
    """The launcher as it was: trust for everyone, the database owned by the superuser."""

    def _write_access_rules(self, user: str | None) -> None:
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
        )

    async def _provision_logins(self) -> None:
        admin = await asyncpg.connect(self.superuser_url("postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await admin.close()


async def test_a_data_folder_from_before_the_logins_is_brought_up_to_date(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, secrets = scratch / "postgres", scratch / "secrets"
    async with PostgresBeforeLogins(data_dir, free_port(), secrets_dir=secrets) as before:
        old_url = f"postgresql://postgres@127.0.0.1:{before.port}/sharehub"
        with monkeypatch.context() as patched:
            patched.setattr(
                "events.postgres.available_migrations", lambda: available_migrations()[:4]
            )
            await migrate(old_url)  # as sharehub up did: the superuser, over TCP
        async with await PostgresEventStore.open(old_url, master_key=MASTER_KEY) as store:
            await store.append(
                "before", [concern().to_new_event(actor=OFFICER)], expected_version=0
            )

    async with EmbeddedPostgres(data_dir, free_port(), secrets_dir=secrets) as after:
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
            await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{after.port}/sharehub")
        assert "0005_least_privilege" in await migrate(after.owner_url)
        owner = await asyncpg.connect(after.owner_url)
        try:
            owners = await owner.fetch(
                "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
                " WHERE relnamespace = 'public'::regnamespace"
                " UNION SELECT pg_get_userbyid(datdba) FROM pg_database"
                " WHERE datname = current_database()"
            )
        finally:
            await owner.close()
        assert [r[0] for r in owners] == ["sharehub_owner"]
        async with await PostgresEventStore.open(after.app_url, master_key=MASTER_KEY) as store:
            assert len(await store.read_stream("before")) == 1
            await store.append("after", [concern().to_new_event(actor=OFFICER)], expected_version=0)
        app = await asyncpg.connect(after.app_url)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute("RESET ROLE; ALTER TABLE events DISABLE TRIGGER USER")
        finally:
            await app.close()
    for password_file in (after.owner_password_file, after.app_password_file):
        assert password_file.parent == secrets
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
