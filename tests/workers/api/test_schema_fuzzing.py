"""The API against its own OpenAPI document: schemathesis generates the calls.

Each generated case goes to the app in process, on the real stack, as a client
of a role that may make it (and now and then one that may not, or none). Every
answer must be documented (status, media type, body schema), never a 5xx, every
error a problem with a ``urn:sharehub:problem:`` type; and a refused call must
not have written anything.

Hypothesis runs in a worker thread (its ``@given`` is synchronous) and hands each
call to the test's event loop, where the store, the Temporal client and the
worker live. ``CASES`` is how many generated cases ``make test`` sends; the test
counts the calls it made and fails below that, so the number is a measurement,
not a hope.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from events.envelope import RecordedEvent
from tests.events.test_signed_checkpoints import sign_now
from tests.workers.api.conftest import PROBLEM, Api, Caller
from tests.workers.api.journey import act, in_queue, raise_one, to_disclosure
from tests.workers.api.test_authorisation import RULES
from workers.api.app import build_app

CASES = 1000
SCHEMA = schemathesis.openapi.from_dict(build_app().openapi())
Operation = APIOperation[Any, Any, Any, Any]
OPERATIONS: list[Operation] = [result.ok() for result in SCHEMA.get_all_operations()]  # type: ignore[union-attr]
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SYSTEM = "sharehub"  # the actor of what workflows record by themselves (clocks, disclosures)
_CALL_SECONDS = 60


@dataclass
class Tally:
    calls: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    raised: set[UUID] = field(default_factory=set)  # request ids the API accepted

    def count(self, status: int) -> None:
        self.calls += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1


def _negatable(operation: Operation) -> bool:
    """Whether the operation has an input to break: a body, or a path or query parameter."""
    definition = operation.definition.raw
    return bool(definition.get("requestBody") or definition.get("parameters"))


def _callers(api: Api, operation: Operation) -> st.SearchStrategy[Caller]:
    """Mostly a caller whose role may make the call; sometimes anyone (401s and 403s)."""
    roles = RULES[(operation.method.upper(), operation.path)].roles
    everyone = api.callers.everyone()
    allowed = [c for c in everyone if roles is None or (c.role in roles and not c.revoked)]
    return st.sampled_from(allowed) | st.sampled_from(everyone)


async def _check(api: Api, case: Case[Any], caller: Caller, tally: Tally) -> None:
    kwargs = case.as_transport_kwargs(base_url="http://test")
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() != "authorization"}
    before = await api.store.head_position()
    response = await api.http.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers={**headers, **caller.headers},
        content=_body(kwargs),
    )
    tally.count(response.status_code)
    label = f"{case.operation.label} as {caller.name}: {response.status_code} {response.text[:500]}"
    assert response.status_code < 500, label
    case.validate_response(response, checks=CHECKS)
    if response.status_code == 201 and case.operation.path == "/v1/share-requests":
        tally.raised.add(UUID(response.json()["request_id"]))
    if response.status_code < 400:
        return
    assert response.headers["content-type"] == PROBLEM, label
    assert response.json()["type"].startswith("urn:sharehub:problem:"), label
    if await api.store.head_position() != before:
        written = await api.store.read_all(from_position=before + 1)
        by_people = [e for e in written if not _recorded_by_itself(e, tally)]
        assert by_people == [], f"{label}: a refused call wrote {by_people}"


def _body(kwargs: dict[str, Any]) -> bytes | None:
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data")
    return data.encode() if isinstance(data, str) else data


def _recorded_by_itself(event: RecordedEvent, tally: Tally) -> bool:
    """Workflows record on their own, a little after an earlier call was answered."""
    if event.type == "ShareRequestRaised":
        return UUID(event.data["request_id"]) in tally.raised
    return event.actor.id == SYSTEM


async def test_the_api_answers_what_its_schema_says(api: Api) -> None:
    # Records for generated paths to find: without them, nearly every id is a 404.
    journey = await to_disclosure(api)
    fresh = await raise_one(api)
    await in_queue(api, fresh)
    triaged = await raise_one(api)
    await in_queue(api, triaged)
    await act(api, api.callers.officer, triaged, "triage", {"rag": "green", "rationale": "Routine"})
    decided = await api.store.read_stream(f"share-request-{journey.request_id}")
    await sign_now(api.store)  # so that an inclusion proof can be given
    known: dict[str, list[str]] = {
        "event_id": [str(decided[0].event_id), str(decided[-1].event_id)],
        "request_id": [str(journey.request_id), str(fresh), str(triaged)],
        "disclosure_id": [str(journey.disclosure_id)],
        "advice_id": [str(journey.advice_id)],
        "stream_id": [f"share-request-{journey.request_id}", f"access-log-{journey.request_id}"],
    }
    tally = Tally(raised={journey.request_id, fresh, triaged})
    loop = asyncio.get_running_loop()

    def run(call: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(call, loop).result(timeout=_CALL_SECONDS)

    strategies: dict[tuple[str, GenerationMode, str | None], st.SearchStrategy[Case[Any]]] = {}

    def cases(operation: Operation, mode: GenerationMode, record: str | None) -> Any:
        key = (operation.label, mode, record)
        if key not in strategies:
            names = [p.name for p in operation.path_parameters]
            fixed = {name: record for name in names} if record else None
            strategies[key] = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
        return strategies[key]

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,  # nothing under the project; a failure prints its reproduction
        print_blob=True,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def one_call(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(OPERATIONS), label="operation")
        modes = [GenerationMode.POSITIVE]
        if _negatable(operation):
            modes.append(GenerationMode.NEGATIVE)
        mode = data.draw(st.sampled_from(modes), label="mode")
        record = None
        names = [p.name for p in operation.path_parameters]
        if names and mode is GenerationMode.POSITIVE:
            # One path parameter at most on every route: a known record, or a generated id.
            [name] = names
            record = data.draw(st.none() | st.sampled_from(known[name]), label=name)
        case = data.draw(cases(operation, mode, record), label="case")
        caller = data.draw(_callers(api, operation), label="caller")
        run(_check(api, case, caller, tally))

    await asyncio.to_thread(one_call)

    assert tally.calls >= CASES, f"only {tally.calls} generated calls were made"
    assert tally.by_status.get(200, 0) > CASES // 10, tally.by_status  # not all refused
    # No raise that was answered with an error started a request.
    await api.quiet()
    raised = [e for e in await api.store.read_all(limit=100_000) if e.type == "ShareRequestRaised"]
    assert {UUID(e.data["request_id"]) for e in raised} <= tally.raised
    print(f"{tally.calls} generated calls; statuses {sorted(tally.by_status.items())}")
