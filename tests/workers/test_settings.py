"""Settings: the secrets a local stack generates for itself under its home folder."""

from __future__ import annotations

import threading
from pathlib import Path

from workers.settings import Settings


def test_processes_starting_together_read_the_one_master_key_they_made(tmp_path: Path) -> None:
    """``sharehub up`` starts the relay, the worker and the API at once on a new home:
    each must read the whole key, never the empty file another is still writing."""
    for attempt in range(20):
        home = tmp_path / str(attempt)
        read = _master_keys_read_together(home, readers=8)
        keys = {key for key in read if isinstance(key, bytes)}
        assert len(keys) == 1 and len(read) == 8, read
        assert len(keys.pop()) == 32
        assert (home / "master.key").stat().st_mode & 0o777 == 0o600
        assert [p.name for p in home.iterdir()] == ["master.key"]  # nothing left aside


def _master_keys_read_together(home: Path, *, readers: int) -> list[bytes | Exception]:
    start = threading.Barrier(readers)
    keys: list[bytes | Exception] = []

    def read_key() -> None:
        start.wait()
        try:
            keys.append(Settings(home=home, master_key=None).master_key_bytes())
        except Exception as e:
            keys.append(e)

    threads = [threading.Thread(target=read_key) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return keys
