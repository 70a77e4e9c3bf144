"""Who owns what: a request id is its agency's, and an action is its person's.

The squatting sequence (another agency pre-claims the id a raise will use) is
refused, never answered as the raiser's success; a name is one person's; a
manager holding two keys is still the decider when signing off.
"""

from __future__ import annotations

import uuid
from uuid import UUID

import pytest
from temporalio.client import Client

from events.envelope import Actor
from events.share_requests import stream_id_for
from tests.workers.api.conftest import PROBLEM, RECIPIENT, Api, Caller, eventually, raise_body
from tests.workers.api.journey import DECISION, act, expect, in_queue, raise_one
from workers.hub.clients import ApiClients, NameInUse
from workers.hub.share_requests import ShareRequestSubmission
from workers.hub.submissions import RequestIdTaken, idempotent_request_id, own_request_id
from workflows.models import Role

ADMIN = Actor(id="test-administrator", role="admin")


async def client_id_of(caller: Caller) -> UUID:
    assert caller.key is not None
    return UUID(hex=caller.key.split("_")[1])


async def pre_claim(api: Api, request_id: UUID) -> None:
    """The police raise with ``request_id`` as bus intake would raise it for them."""
    service = api.app.state.context.service
    submission = ShareRequestSubmission.model_validate(raise_body(raised_by="dc-harris"))
    await own_request_id(api.store, request_id, agency=RECIPIENT)
    await service.raise_request(submission.as_request(request_id=request_id, agency=RECIPIENT))


async def test_ids_from_idempotency_keys_cannot_be_worked_out_without_the_secret(
    api: Api,
) -> None:
    school = {**api.callers.school.headers, "Idempotency-Key": "mis-export-0001"}
    answer = expect(
        await api.http.post("/v1/share-requests", json=raise_body(), headers=school), 201
    )
    client_id = await client_id_of(api.callers.school)
    secret = api.app.state.context.settings.request_id_secret_bytes()
    assert UUID(answer["request_id"]) == idempotent_request_id(secret, client_id, "mis-export-0001")
    # What the id used to be (a namespace UUID in the source and the client id) ...
    old = uuid.uuid5(UUID("5b4f2c1e-8f0a-4c3e-9a57-1d2b6e0c7a11"), f"{client_id}:mis-export-0001")
    assert UUID(answer["request_id"]) != old
    # ... and under another deployment's secret: neither predicts it.
    assert idempotent_request_id(b"x" * 32, client_id, "mis-export-0001") != old
    assert idempotent_request_id(b"x" * 32, client_id, "mis-export-0001") != UUID(
        answer["request_id"]
    )


async def test_an_idempotent_raise_whose_id_another_agency_took_is_refused(
    api: Api, client: Client
) -> None:
    """Even knowing the id (here: given the secret), the police cannot make the school's
    raise answer "raised" for a request of theirs."""
    key = "mis-export-0002"
    secret = api.app.state.context.settings.request_id_secret_bytes()
    squatted = idempotent_request_id(secret, await client_id_of(api.callers.school), key)
    await pre_claim(api, squatted)

    school = {**api.callers.school.headers, "Idempotency-Key": key}
    for _ in range(2):  # refused, and refused again: the key was not remembered
        refused = await api.http.post("/v1/share-requests", json=raise_body(), headers=school)
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == PROBLEM
        problem = refused.json()
        assert problem["type"] == "urn:sharehub:problem:request-id-taken"
        assert str(squatted) in problem["detail"]
        assert "location" not in refused.headers

    # The school never sees the police's request as its own.
    mine = expect(await api.http.get("/v1/share-requests", headers=api.callers.school.headers), 200)
    assert str(squatted) not in {item["request_id"] for item in mine["items"]}
    not_mine = await api.http.get(
        f"/v1/share-requests/{squatted}", headers=api.callers.school.headers
    )
    assert not_mine.status_code == 404
    # The police's raise is recorded by the workflow's first activity, after it answered.
    raised = await eventually(lambda: api.store.read_stream(stream_id_for(squatted)), bool)
    assert [(e.type, e.actor.agency) for e in raised] == [("ShareRequestRaised", RECIPIENT)]
    assert len([w async for w in client.list_workflows(f"WorkflowId = '{squatted}'")]) == 1

    # With another key, the school raises as usual.
    other = {**api.callers.school.headers, "Idempotency-Key": "mis-export-0003"}
    expect(await api.http.post("/v1/share-requests", json=raise_body(), headers=other), 201)


async def test_an_id_the_school_raised_cannot_be_raised_by_another_agency(api: Api) -> None:
    request_id = await raise_one(api)
    with pytest.raises(RequestIdTaken, match="already used by another agency"):
        await own_request_id(api.store, request_id, agency=RECIPIENT)
    # The school's own claim of it again is no conflict.
    await own_request_id(api.store, request_id, agency=api.callers.school.agency or "")


async def test_a_name_in_use_is_refused_unless_another_key_for_that_person(api: Api) -> None:
    clients = ApiClients(api.store)
    policy = api.app.state.context.policy
    with pytest.raises(NameInUse, match="already in use"):
        await clients.create(
            name="manager-aziz", role=Role.HUB_MANAGER, agency=None, policy=policy, created_by=ADMIN
        )
    # Whitespace and case make no other name.
    with pytest.raises(NameInUse):
        await clients.create(
            name="  Manager-AZIZ ",
            role=Role.HUB_OFFICER,
            agency=None,
            policy=policy,
            created_by=ADMIN,
        )
    first = await clients.authenticate(api.callers.manager.key or "")
    assert first is not None
    second, _ = await clients.create(
        name="manager-aziz",
        role=Role.HUB_MANAGER,
        agency=None,
        policy=policy,
        created_by=ADMIN,
        another_key=True,
    )
    assert second.client_id != first.client_id
    assert second.person == first.person


async def test_a_manager_holding_two_keys_cannot_sign_off_their_own_decision(api: Api) -> None:
    clients = ApiClients(api.store)
    policy = api.app.state.context.policy
    _, second_key = await clients.create(
        name="manager-aziz",
        role=Role.HUB_MANAGER,
        agency=None,
        policy=policy,
        created_by=ADMIN,
        another_key=True,
    )
    aziz_again = Caller(name="manager-aziz", role=Role.HUB_MANAGER, agency=None, key=second_key)
    c = api.callers
    request_id = await raise_one(api)
    await in_queue(api, request_id)
    await act(
        api,
        c.officer,
        request_id,
        "triage",
        {"rag": "amber", "rationale": "Repeated missing episodes; within 6 hours"},
    )
    await act(api, c.manager, request_id, "decision", DECISION)
    head = await api.quiet()

    own = await api.http.post(
        f"/v1/hub/share-requests/{request_id}/sign-off",
        json={"comment": "Agreed."},
        headers=aziz_again.headers,
    )
    assert own.status_code == 422, own.text
    assert "someone other than the decider" in own.json()["detail"]
    assert await api.events_after(head) == []

    await act(api, c.second_manager, request_id, "sign-off", {"comment": "Agreed."})
