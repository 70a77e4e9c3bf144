"""The operator commands, run as a person runs them: a real process per command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from events.postgres import PostgresEventStore
from tests.events.conftest import MASTER_KEY
from tests.events.sample_events import OFFICER, concern

REPO = Path(__file__).resolve().parents[3]


def sharehub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHAREHUB_")}
    env["SHAREHUB_HOME"] = str(tmp_path / "home")
    return env


async def test_migrate_then_verify_an_intact_log(
    cli_env: dict[str, str], empty_database: str
) -> None:
    env = {**cli_env, "SHAREHUB_DATABASE_URL": empty_database}
    first = sharehub("db", "migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_event_store" in first.stdout
    again = sharehub("db", "migrate", env=env)
    assert again.stdout.strip() == "schema is up to date"

    async with await PostgresEventStore.open(empty_database, master_key=MASTER_KEY) as store:
        for index in range(3):
            await store.append(
                f"request-{index}", [concern().to_new_event(actor=OFFICER)], expected_version=0
            )
    verified = sharehub("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stderr
    assert "chain intact: 3 events verified" in verified.stdout


async def test_verify_names_the_position_of_an_edited_event(
    cli_env: dict[str, str], empty_database: str
) -> None:
    env = {**cli_env, "SHAREHUB_DATABASE_URL": empty_database}
    assert sharehub("db", "migrate", env=env).returncode == 0
    async with await PostgresEventStore.open(empty_database, master_key=MASTER_KEY) as store:
        for index in range(4):
            await store.append(
                f"request-{index}", [concern().to_new_event(actor=OFFICER)], expected_version=0
            )
    owner = await asyncpg.connect(empty_database)
    try:
        await owner.execute(
            "ALTER TABLE events DISABLE TRIGGER USER;"
            " UPDATE events SET type = 'x' WHERE global_position = 3;"
            " ALTER TABLE events ENABLE TRIGGER USER;"
        )
    finally:
        await owner.close()
    broken = sharehub("audit", "verify", env=env)
    assert broken.returncode == 1
    assert "global position 3" in broken.stderr
    assert "2 events before it verified" in broken.stderr


def test_commands_without_a_stack_say_how_to_get_one(cli_env: dict[str, str]) -> None:
    result = sharehub("audit", "verify", env=cli_env)
    assert result.returncode == 2
    assert "SHAREHUB_DATABASE_URL is not set" in result.stderr
    assert "make up" in result.stderr


def test_policy_check_accepts_the_demo_policy_and_names_bad_fields(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    good = sharehub("policy", "check", "policy/demo-dsa.toml", env=cli_env)
    assert good.returncode == 0, good.stderr
    assert "valid" in good.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\nversion = 3\n')
    rejected = sharehub("policy", "check", str(bad), env=cli_env)
    assert rejected.returncode == 2
    assert f"{bad}: version" in rejected.stderr
