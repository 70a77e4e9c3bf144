"""Every endpoint, every role, own or another agency's record: who gets what answer.

The table below names every route of the app; a route missing from it fails the
test, so a new endpoint cannot ship without saying who may call it. Refusals
(401, 403, 404) must leave the log as it was; allowed reads of one request or
disclosure (or of raw events) add ``RecordViewed`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi.routing import iter_route_contexts

from tests.events.test_signed_checkpoints import sign_now
from tests.workers.api.conftest import PROBLEM, RECIPIENT, REFERRER, Api, Caller, raise_body
from tests.workers.api.journey import DECISION, Journey, to_disclosure
from workers.console.routing import ConsoleRoute
from workflows.models import Role

AGENCY = frozenset({Role.AGENCY})
HUB = frozenset({Role.HUB_OFFICER, Role.HUB_MANAGER})
ADVISOR = frozenset({Role.IG_ADVISOR})
AUDITOR = frozenset({Role.AUDITOR})
PUBLIC = None


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role] | None  # None: no key needed
    # Whose record the path names: an agency that is not its referrer (or recipient)
    # gets 404, as if it did not exist.
    scope: Literal["referrer", "recipient"] | None = None
    body: dict[str, Any] | None = None
    views: bool = False  # a person's read of one request or disclosure: RecordViewed
    params: dict[str, Any] = field(default_factory=dict)


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/openapi.json"): Rule(PUBLIC),
    ("GET", "/docs"): Rule(PUBLIC),
    ("GET", "/docs/swagger-init.js"): Rule(PUBLIC),
    ("GET", "/healthz"): Rule(PUBLIC),
    ("GET", "/readyz"): Rule(PUBLIC),
    ("GET", "/asyncapi"): Rule(PUBLIC),
    ("POST", "/v1/share-requests"): Rule(AGENCY, body=raise_body()),
    ("GET", "/v1/share-requests"): Rule(AGENCY),
    ("GET", "/v1/share-requests/{request_id}"): Rule(AGENCY, "referrer", views=True),
    ("POST", "/v1/share-requests/{request_id}/withdrawal"): Rule(
        AGENCY, "referrer", body={"reason": "Raised in error"}
    ),
    ("GET", "/v1/disclosures"): Rule(AGENCY),
    ("GET", "/v1/disclosures/{disclosure_id}"): Rule(AGENCY, "recipient", views=True),
    ("POST", "/v1/disclosures/{disclosure_id}/acknowledgement"): Rule(AGENCY, "recipient"),
    ("GET", "/v1/hub/queue"): Rule(HUB),
    ("GET", "/v1/hub/share-requests/{request_id}"): Rule(HUB, views=True),
    ("POST", "/v1/hub/share-requests/{request_id}/triage"): Rule(
        HUB, body={"rag": "red", "rationale": "Escalating: new information"}
    ),
    ("POST", "/v1/hub/share-requests/{request_id}/advice-requests"): Rule(
        HUB, body={"question": "Anything else to consider?"}
    ),
    ("POST", "/v1/hub/share-requests/{request_id}/decision"): Rule(HUB, body=DECISION),
    ("POST", "/v1/hub/share-requests/{request_id}/sign-off"): Rule(HUB, body={}),
    ("POST", "/v1/hub/share-requests/{request_id}/family-step"): Rule(
        HUB, body={"kind": "notified"}
    ),
    ("POST", "/v1/hub/share-requests/{request_id}/withdrawal"): Rule(
        HUB, body={"reason": "Duplicate referral"}
    ),
    ("POST", "/v1/hub/share-requests/{request_id}/closure"): Rule(HUB),
    ("GET", "/v1/advice-requests"): Rule(ADVISOR),
    ("GET", "/v1/advice-requests/{advice_id}"): Rule(ADVISOR),
    ("POST", "/v1/advice-requests/{advice_id}/advice"): Rule(
        ADVISOR, body={"advice": "Share the minimum necessary."}
    ),
    ("GET", "/v1/audit/streams/{stream_id}/events"): Rule(AUDITOR, views=True),
    ("GET", "/v1/audit/events"): Rule(AUDITOR, views=True),  # one view per request shown
    ("GET", "/v1/audit/share-requests/{request_id}/state"): Rule(AUDITOR, views=True),
    ("GET", "/v1/audit/verification"): Rule(AUDITOR),
    ("GET", "/v1/audit/checkpoints"): Rule(AUDITOR),
    ("GET", "/v1/audit/checkpoints/latest"): Rule(AUDITOR),
    ("GET", "/v1/audit/events/{event_id}/inclusion-proof"): Rule(AUDITOR),
    # Reporting a decision reads who the child is: one view per reported request.
    ("GET", "/v1/audit/report"): Rule(
        AUDITOR, views=True, params={"from": "2020-01-01T00:00Z", "to": "2100-01-01T00:00Z"}
    ),
}


def app_routes(api: Api) -> list[tuple[str, str]]:
    """Every (method, path) the API answers; HEAD is GET without a body.

    The web console's pages (``ConsoleRoute``) are not in the table: they answer people
    with HTML pages and redirects, not problems, and call the same records, service and
    permissions table as these routes; tests/workers/console checks them in a browser.
    """
    found = []
    for route in iter_route_contexts(api.app.routes):
        if isinstance(route.original_route, ConsoleRoute):
            continue
        assert route.path is not None
        found += [
            (method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"
        ]
    return found


def expected(rule: Rule, caller: Caller) -> int | None:
    """The refusal ``caller`` must get, or None where it may (business rules aside)."""
    if rule.roles is PUBLIC:
        return None
    if caller.role is None or caller.revoked:
        return 401
    if caller.role not in rule.roles:
        return 403
    owner = {"referrer": REFERRER, "recipient": RECIPIENT, None: caller.agency}[rule.scope]
    return None if caller.agency == owner else 404


async def test_every_route_is_in_the_table(api: Api) -> None:
    routes = app_routes(api)
    assert len(routes) == len(set(routes))
    assert set(routes) == set(RULES), "say who may call each route in RULES"


async def test_each_role_gets_only_what_need_to_know_allows(api: Api) -> None:
    journey: Journey = await to_disclosure(api)
    [first_event, *_] = await api.store.read_stream(f"share-request-{journey.request_id}")
    await sign_now(api.store)  # a checkpoint to show, and to prove the raise against
    ids = {
        "request_id": journey.request_id,
        "disclosure_id": journey.disclosure_id,
        "advice_id": journey.advice_id,
        "stream_id": f"share-request-{journey.request_id}",
        "event_id": first_event.event_id,
    }
    answered: dict[tuple[str, str, str], int] = {}
    for method, path in app_routes(api):
        rule = RULES[(method, path)]
        url = path.format(**{name: ids[name] for name in ids if "{" + name + "}" in path})
        for caller in api.callers.everyone():
            before = await api.settled()
            response = await api.http.request(
                method, url, json=rule.body, params=rule.params, headers=caller.headers
            )
            after = await api.settled()
            status = response.status_code
            answered[(method, path, caller.name)] = status
            why = f"{method} {path} as {caller.name}: {status} {response.text[:300]}"
            refusal = expected(rule, caller)
            if refusal is None:
                assert status < 500 and status not in (401, 403, 404), why
                new = await api.events_after(before)
                if method == "POST":
                    await api.quiet()  # what the workflow records after it answered
                if rule.views and status == 200:
                    assert new, f"{why}: the read is not in the access log"
                    viewed = {(e.type, e.actor.id) for e in new}
                    assert viewed == {("RecordViewed", caller.actor_id)}
                elif method == "GET":
                    assert new == [], why
                continue
            assert status == refusal, why
            assert response.headers["content-type"] == PROBLEM, why
            slug = {401: "unauthenticated", 403: "forbidden", 404: "not-found"}[refusal]
            assert response.json()["type"] == f"urn:sharehub:problem:{slug}", why
            if refusal == 401:
                assert response.headers["www-authenticate"] == "Bearer", why
            assert after == before, f"{why}: a refused call wrote an event"

    # Lists show an agency only its own: what it raised, what was disclosed to it.
    c = api.callers
    for caller in (c.school, c.police, c.housing):
        raised = await api.http.get("/v1/share-requests", headers=caller.headers)
        mine = {item["request_id"] for item in raised.json()["items"]}
        assert (str(journey.request_id) in mine) == (caller.agency == REFERRER)
        received = await api.http.get("/v1/disclosures", headers=caller.headers)
        to_me = [item["agency"] for item in received.json()["items"]]
        assert set(to_me) <= {caller.agency}
        assert (str(journey.disclosure_id) in str(received.json())) == (caller.agency == RECIPIENT)
    # Allowed callers were answered from the business rules, at least once with success.
    assert answered[("GET", "/v1/disclosures/{disclosure_id}", "dc-harris")] == 200
    assert answered[("POST", "/v1/disclosures/{disclosure_id}/acknowledgement", "dc-harris")] == 200
    assert answered[("GET", "/v1/share-requests/{request_id}", "dsl-okonjo")] == 200
    assert answered[("POST", "/v1/share-requests", "dsl-okonjo")] == 201
