"""The local stack's Temporal listens on loopback only: its frontend, its web UI, and the
HTTP, metrics and internal ports the dev server opens beside them."""

from __future__ import annotations

from pathlib import Path

import httpx
import psutil

from workers.stack.embedded import LOOPBACK, EmbeddedTemporal, free_port


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """Every TCP address the process (and any child of it) listens on."""
    process = psutil.Process(pid)
    return {
        (connection.laddr.ip, connection.laddr.port)
        for each in (process, *process.children(recursive=True))
        for connection in each.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    }


async def test_the_frontend_and_the_web_ui_listen_on_loopback_only(tmp_path: Path) -> None:
    server = EmbeddedTemporal(
        None, free_port(), free_port(), headless=False, log_file=tmp_path / "temporal.log"
    )
    async with server:
        listening = listening_addresses(server.process.pid)
        assert server.ui_url is not None
        async with httpx.AsyncClient() as http:
            ui = await http.get(server.ui_url)

    assert (LOOPBACK, server.port) in listening
    assert (LOOPBACK, server.ui_port) in listening
    assert ui.status_code == 200
    assert len(listening) > 2  # the HTTP API, metrics and internal services too
    assert {ip for ip, _ in listening} == {LOOPBACK}, listening
