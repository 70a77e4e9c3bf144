"""Read models on a real stack: followed live while the demo runs, equal after a rebuild."""

from __future__ import annotations

import io
from typing import Any

import httpx
from rich.console import Console

from events.postgres import PostgresEventStore
from events.read_models.projector import READ_MODELS, Projector, running_projector
from events.read_models.replay import replay_request
from events.share_requests import stream_id_for
from workers.demo.cases import DemoPath
from workers.demo.run import run_demo
from workers.settings import Settings


async def snapshot(store: PostgresEventStore) -> dict[str, list[dict[str, Any]]]:
    return {
        model.table: await store.query(f"SELECT * FROM {model.table} ORDER BY {model.key}")
        for model in READ_MODELS
    }


async def test_rebuilt_read_models_equal_the_ones_followed_live(
    settings: Settings, store: PostgresEventStore, worker: None, api: httpx.AsyncClient
) -> None:
    async with running_projector(store) as projector:
        run = await run_demo(
            settings,
            requests=len(DemoPath),
            concurrency=len(DemoPath),
            seed=3,
            console=Console(file=io.StringIO()),
            http=api,
        )
        assert run.succeeded
        await projector.wait_for(await store.head_position())
    live = await snapshot(store)
    views = {o.request_id: o for o in run.outcomes}
    requests = {row["request_id"]: row for row in live["share_request_view"]}
    assert set(requests) == set(views)
    for request_id, outcome in views.items():
        assert requests[request_id]["stage"] == outcome.stage
    assert len(live["disclosure_view"]) == sum(o.disclosures for o in run.outcomes)
    assert all(row["acknowledged_at"] is not None for row in live["disclosure_view"])
    assert len(live["advice_view"]) == 1

    folded = await Projector(store).rebuild()
    assert folded == await store.head_position()
    assert await snapshot(store) == live


async def test_replaying_a_request_gives_its_row_in_the_read_model(
    settings: Settings, store: PostgresEventStore, worker: None, api: httpx.AsyncClient
) -> None:
    async with running_projector(store) as projector:
        run = await run_demo(
            settings,
            requests=1,
            concurrency=1,
            seed=5,
            console=Console(file=io.StringIO()),
            http=api,
        )
        await projector.wait_for(await store.head_position())
    request_id = run.outcomes[0].request_id
    events = await store.read_stream(stream_id_for(request_id))
    [row] = await store.query("SELECT * FROM share_request_view WHERE request_id = $1", request_id)
    assert replay_request(events).request == row
    before_decision = [e for e in events if e.type in ("ShareRequestRaised", "TriageRecorded")]
    state = replay_request(before_decision)
    assert state.request is not None
    assert state.request["stage"] == "triaged"
    assert state.request["outcome"] is None
    assert state.disclosures == []
