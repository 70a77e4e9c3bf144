"""The operator commands on a real stack, run in-process as `sharehub …` with API keys.

Commands call ``asyncio.run``, so each runs in a thread of its own while the
test's loop keeps the worker going; they find the stack through the same
``SHAREHUB_*`` variables as a real terminal.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from events.access import access_log_stream
from events.envelope import Actor
from events.postgres import PostgresEventStore
from events.share_requests import stream_id_for
from tests.workflows.scenario import CHILD_NAME, POLICE, raise_request
from workers.cli.app import app
from workers.cli.operator_views import duration
from workers.hub.clients import ApiClients
from workers.hub.share_requests import ShareRequestService, ShareRequestSubmission
from workers.settings import Settings
from workflows.models import AcknowledgeDisclosure, Disclosure, Role, Stage
from workflows.policy import DataSharingAgreement

ADMIN = Actor(id="operator:test", role="admin", agency=None)

# An officer's decision to share part of what was asked without consent: it
# needs a hub manager's second sign-off on both counts.
PARTIAL_SHARE_WITHOUT_CONSENT: dict[str, Any] = {
    "outcome": "share_partial",
    "lawful_basis": "art6_1e_public_task",
    "condition": "art9_2g_dpa2018_sch1_para18_safeguarding",
    "reasons": "Repeated missing episodes; police need the school's picture.",
    "shares": [
        {
            "agency": "met-police",
            "categories": ["social_care_involvement"],
            "purpose": "safeguarding_strategy",
        }
    ],
    "consent": "not_sought",
    "consent_note": "Seeking consent could place her at risk",
    "caveats": ["Do not approach the parents before the strategy discussion"],
}


@dataclass(frozen=True)
class Keys:
    school: str
    officer: str
    manager: str
    advisor: str


def actor_id(key: str) -> str:
    """The actor id the events of a key's holder carry: the client id in the key."""
    return str(uuid.UUID(hex=key.split("_")[1]))


@pytest.fixture
async def keys(store: PostgresEventStore, policy: DataSharingAgreement) -> Keys:
    clients = ApiClients(store)

    async def key(name: str, role: Role, agency: str | None = None) -> str:
        _, secret = await clients.create(
            name=name, role=role, agency=agency, policy=policy, created_by=ADMIN
        )
        return secret

    return Keys(
        school=await key("st-aldhelms-mis", Role.AGENCY, "st-aldhelms-primary"),
        officer=await key("officer-reid", Role.HUB_OFFICER),
        manager=await key("manager-aziz", Role.HUB_MANAGER),
        advisor=await key("ig-lead-park", Role.IG_ADVISOR),
    )


@pytest.fixture
def environment(settings: Settings) -> dict[str, str | None]:
    """The test's stack, as a terminal's variables; nothing of the outer environment's."""
    unset: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("SHAREHUB")
    }
    return {
        **unset,
        "SHAREHUB_DATABASE_URL": settings.database_url,
        "SHAREHUB_TEMPORAL_ADDRESS": settings.temporal_address,
        "SHAREHUB_NATS_URL": settings.nats_url,
        "SHAREHUB_NATS_SEED": settings.nats_seed,
        "SHAREHUB_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "SHAREHUB_MASTER_KEY": settings.master_key,
        "SHAREHUB_POLICY_FILE": str(settings.policy_file),
        "SHAREHUB_HOME": str(settings.home),
        "COLUMNS": "160",  # rich's width off a terminal: every column of the queue
    }


@dataclass(frozen=True)
class Sharehub:
    environment: dict[str, str | None]

    async def __call__(self, *args: str, key: str | None) -> Result:
        runner = CliRunner()
        env = {**self.environment, "SHAREHUB_API_KEY": key}
        return await asyncio.to_thread(lambda: runner.invoke(app, list(args), env=env))


@pytest.fixture
def sharehub(environment: dict[str, str | None]) -> Sharehub:
    return Sharehub(environment)


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    """A share request as the school's system would send it."""
    request = raise_request()
    submission = ShareRequestSubmission(
        raised_by=request.referrer.id,
        **request.model_dump(
            include={"purpose", "recipients", "lawful_basis", "condition", "consent"}
        ),
        child=request.child,
        details=request.details,
    )
    path = tmp_path / "request.json"
    path.write_text(submission.model_dump_json(indent=2))
    return path


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def write_json(path: Path, body: Any) -> Path:
    path.write_text(json.dumps(body))
    return path


async def event_types(store: PostgresEventStore, request_id: uuid.UUID) -> list[str]:
    return [e.type for e in await store.read_stream(stream_id_for(request_id))]


async def raised(sharehub: Sharehub, request_file: Path, keys: Keys) -> uuid.UUID:
    result = await sharehub("raise", "--file", str(request_file), key=keys.school)
    assert result.exit_code == 0, result.output
    return uuid.UUID(result.stdout.strip())


async def sent_disclosures(service: ShareRequestService, request_id: uuid.UUID) -> list[Disclosure]:
    for _ in range(200):
        disclosures = await service.disclosures(request_id)
        if disclosures:
            return disclosures
        await asyncio.sleep(0.05)
    raise AssertionError("no disclosure was sent")


async def stage_reached(service: ShareRequestService, request_id: uuid.UUID, stage: Stage) -> None:
    for _ in range(200):
        if await service.stage(request_id) is stage:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the request never reached {stage.value}")


async def test_a_request_from_raise_to_close_through_the_commands(
    sharehub: Sharehub,
    keys: Keys,
    request_file: Path,
    tmp_path: Path,
    store: PostgresEventStore,
    service: ShareRequestService,
    worker: None,
) -> None:
    request_id = await raised(sharehub, request_file, keys)
    assert await event_types(store, request_id) == ["ShareRequestRaised"]

    listed = await sharehub("queue", "--json", key=keys.officer)
    assert listed.exit_code == 0, listed.output
    [item] = [i for i in json.loads(listed.stdout) if i["request_id"] == str(request_id)]
    assert item["stage"] == "raised"
    assert item["referrer_agency"] == "st-aldhelms-primary"

    triaged = await sharehub(
        "triage", str(request_id), "--rag", "red", "--rationale", "Missing again", key=keys.officer
    )
    assert triaged.exit_code == 0, triaged.output
    assert triaged.stdout.strip() == f"rated red: share request {request_id} is now triaged"

    red = await sharehub("queue", "--rag", "red", key=keys.officer)
    assert red.exit_code == 0, red.output
    assert str(request_id) in red.stdout
    assert "1 h 59 min" in red.stdout or "2 h" in red.stdout  # a red SLA is two hours
    assert CHILD_NAME not in red.stdout

    decision = write_json(tmp_path / "decision.json", PARTIAL_SHARE_WITHOUT_CONSENT)
    decided = await sharehub("decide", str(request_id), "--file", str(decision), key=keys.officer)
    assert decided.exit_code == 0, decided.output
    assert "awaiting a hub manager's sign-off" in decided.stdout
    assert decided.stdout.strip().endswith("is now awaiting_sign_off")

    before = await event_types(store, request_id)
    by_officer = await sharehub("sign-off", str(request_id), key=keys.officer)
    assert by_officer.exit_code == 1
    assert "refused, nothing recorded" in by_officer.stderr
    assert "needs a hub manager, not a hub_officer" in by_officer.stderr
    assert await event_types(store, request_id) == before

    signed = await sharehub(
        "sign-off", str(request_id), "--comment", "Proportionate", key=keys.manager
    )
    assert signed.exit_code == 0, signed.output
    assert "is now disclosing" in signed.stdout

    too_early = await sharehub("close", str(request_id), key=keys.officer)
    assert too_early.exit_code == 1
    assert "still awaiting acknowledgement from met-police" in too_early.stderr
    assert "ShareRequestClosed" not in await event_types(store, request_id)

    family = await sharehub(
        "family-step",
        str(request_id),
        "--kind",
        "withheld",
        "--reason",
        "Telling the family would increase the risk to the child",
        key=keys.officer,
    )
    assert family.exit_code == 0, family.output
    assert "family withheld" in family.stdout

    [police] = await sent_disclosures(service, request_id)
    await service.act(
        request_id, AcknowledgeDisclosure(actor=POLICE, disclosure_id=police.disclosure_id)
    )
    await stage_reached(service, request_id, Stage.READY_TO_CLOSE)
    closed = await sharehub("close", str(request_id), key=keys.officer)
    assert closed.exit_code == 0, closed.output
    assert closed.stdout.strip() == f"closed: share request {request_id} is now closed"

    shown = await sharehub("show", str(request_id), "--json", key=keys.manager)
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    assert view["stage"] == "closed"
    assert view["child"]["nhs_number"] == "9434765919"
    # Events record the client ids; the view shows the clients' names.
    assert view["decided_by"] == "officer-reid"
    assert view["signed_off_by"] == "manager-aziz"
    # The police acknowledged as a name with no client behind it: shown as recorded.
    assert [d["acknowledged_by"] for d in view["disclosures"]] == ["dc-harris"]
    assert [d["agency"] for d in view["disclosures"]] == ["met-police"]
    timeline = [entry["type"] for entry in view["timeline"]]
    for step in (
        "ShareRequestRaised",
        "TriageRecorded",
        "DecisionRecorded",
        "DecisionSignedOff",
        "DisclosureSent",
        "FamilyStepRecorded",
        "DisclosureAcknowledged",
        "ShareRequestClosed",
    ):
        assert step in timeline
    triage_entry = next(e for e in view["timeline"] if e["type"] == "TriageRecorded")
    assert triage_entry["actor"] == {
        "id": actor_id(keys.officer),
        "name": "officer-reid",
        "role": "hub_officer",
        "agency": None,
    }
    acknowledged = next(e for e in view["timeline"] if e["type"] == "DisclosureAcknowledged")
    assert (acknowledged["actor"]["id"], acknowledged["actor"]["name"]) == ("dc-harris",) * 2

    readable = await sharehub("show", str(request_id), key=keys.officer)
    assert readable.exit_code == 0, readable.output
    assert CHILD_NAME in readable.stdout  # hub staff asked to see who the child is
    assert "DecisionSignedOff" in readable.stdout

    viewed = await store.read_stream(access_log_stream(request_id))
    assert [(e.type, e.data["via"], e.actor.id) for e in viewed] == [
        ("RecordViewed", "cli show", actor_id(keys.manager)),
        ("RecordViewed", "cli show", actor_id(keys.officer)),
    ]


async def test_advice_then_withdrawal_and_nothing_after_it(
    sharehub: Sharehub,
    keys: Keys,
    request_file: Path,
    store: PostgresEventStore,
    worker: None,
) -> None:
    request_id = await raised(sharehub, request_file, keys)
    sought = await sharehub(
        "seek-advice",
        str(request_id),
        "--question",
        "Is police sharing proportionate?",
        key=keys.officer,
    )
    assert sought.exit_code == 0, sought.output
    assert "is now raised" in sought.stdout

    withdrawn = await sharehub(
        "withdraw", str(request_id), "--reason", "Raised in error", key=keys.manager
    )
    assert withdrawn.exit_code == 0, withdrawn.output
    assert withdrawn.stdout.strip() == f"withdrawn: share request {request_id} is now withdrawn"

    before = await event_types(store, request_id)
    late = await sharehub(
        "triage", str(request_id), "--rag", "amber", "--rationale", "Too late", key=keys.officer
    )
    assert late.exit_code == 1
    assert late.stderr.startswith("refused")
    assert await event_types(store, request_id) == before

    open_only = await sharehub("queue", "--json", key=keys.officer)
    assert str(request_id) not in open_only.stdout
    gone = await sharehub("queue", "--json", "--stage", "withdrawn", key=keys.officer)
    assert [i["request_id"] for i in json.loads(gone.stdout)] == [str(request_id)]


async def test_an_idempotent_raise_gives_the_first_request_again(
    sharehub: Sharehub, keys: Keys, request_file: Path, tmp_path: Path, worker: None
) -> None:
    args = ("raise", "--file", str(request_file), "--idempotency-key", "mis-4711")
    first = await sharehub(*args, key=keys.school)
    again = await sharehub(*args, key=keys.school)
    assert first.exit_code == again.exit_code == 0, again.output
    assert first.stdout == again.stdout
    assert "already raised with this idempotency key" in again.stderr

    other = read_json(request_file)
    other["raised_by"] = "deputy-dsl-khan"
    reused = await sharehub(
        "raise",
        "--file",
        str(write_json(tmp_path / "other.json", other)),
        "--idempotency-key",
        "mis-4711",
        key=keys.school,
    )
    assert reused.exit_code == 1
    assert "was used for a different share request" in reused.stderr


async def test_a_request_the_agreement_does_not_allow_is_refused_with_every_reason(
    sharehub: Sharehub, keys: Keys, request_file: Path, tmp_path: Path, worker: None
) -> None:
    body = read_json(request_file)
    body["recipients"] = [{"agency": "bright-futures-youth", "categories": ["gp_contacts"]}]
    refused = await sharehub(
        "raise", "--file", str(write_json(tmp_path / "bad.json", body)), key=keys.school
    )
    assert refused.exit_code == 1
    assert "the share request cannot be raised" in refused.stderr
    assert "bright-futures-youth" in refused.stderr
    assert CHILD_NAME not in refused.output
    assert refused.stdout == ""


async def test_a_bad_decision_file_names_its_fields_and_records_nothing(
    sharehub: Sharehub,
    keys: Keys,
    request_file: Path,
    tmp_path: Path,
    store: PostgresEventStore,
    worker: None,
) -> None:
    request_id = await raised(sharehub, request_file, keys)
    decision = {**PARTIAL_SHARE_WITHOUT_CONSENT, "outcome": "share_everything"}
    del decision["reasons"]
    decision["actor"] = {"id": "someone-else", "role": "hub_manager"}
    path = write_json(tmp_path / "decision.json", decision)
    bad = await sharehub("decide", str(request_id), "--file", str(path), key=keys.officer)
    assert bad.exit_code == 2
    assert f"{path} is not a valid body" in bad.stderr
    assert "- outcome: Input should be 'share', 'share_partial' or 'decline'" in bad.stderr
    assert "- reasons: Field required" in bad.stderr
    assert "- actor: Extra inputs are not permitted" in bad.stderr
    assert "share_everything" not in bad.stderr  # the field, never what it held

    not_json = tmp_path / "broken.json"
    not_json.write_text('{"outcome": "share",\n  oops}')
    broken = await sharehub("decide", str(request_id), "--file", str(not_json), key=keys.officer)
    assert broken.exit_code == 2
    assert "is not JSON" in broken.stderr
    assert "line 2" in broken.stderr

    wrong_option = await sharehub(
        "triage", str(request_id), "--rag", "purple", "--rationale", "x", key=keys.officer
    )
    assert wrong_option.exit_code == 2
    assert "--rag: Input should be 'red', 'amber', 'green' or 'blue'" in wrong_option.stderr
    assert "--rationale: String should have at least 3 characters" in wrong_option.stderr
    assert await event_types(store, request_id) == ["ShareRequestRaised"]


async def test_keys_decide_who_may_act(
    sharehub: Sharehub, keys: Keys, request_file: Path, store: PostgresEventStore, worker: None
) -> None:
    request_id = await raised(sharehub, request_file, keys)

    advisor = await sharehub("queue", key=keys.advisor)
    assert advisor.exit_code == 1
    assert (
        "refused: only a hub_manager or hub_officer may read the hub's queue, not an ig_advisor"
        in advisor.stderr
    )
    agency = await sharehub(
        "triage", str(request_id), "--rag", "red", "--rationale", "Urgent", key=keys.school
    )
    assert agency.exit_code == 1
    assert "may act on a share request for the hub, not an agency" in agency.stderr
    officer = await sharehub("raise", "--file", str(request_file), key=keys.officer)
    assert officer.exit_code == 1
    assert "only an agency may raise share requests, not a hub_officer" in officer.stderr
    peek = await sharehub("show", str(request_id), key=keys.school)
    assert peek.exit_code == 1
    assert CHILD_NAME not in peek.output

    missing = await sharehub("queue", key=None)
    assert missing.exit_code == 2
    assert "no API key: pass --key or set SHAREHUB_API_KEY" in missing.stderr
    invalid = await sharehub("queue", "--key", keys.officer[:-4] + "abcd", key=None)
    assert invalid.exit_code == 2
    assert "the API key is not valid" in invalid.stderr
    by_option = await sharehub("queue", "--json", "--key", keys.officer, key=None)
    assert by_option.exit_code == 0, by_option.output

    unknown = uuid.uuid4()
    nothing = await sharehub("close", str(unknown), key=keys.officer)
    assert nothing.exit_code == 2
    assert f"no share request {unknown}" in nothing.stderr
    not_an_id = await sharehub("show", "amara", key=keys.officer)
    assert not_an_id.exit_code == 2
    assert "is not a share request id" in not_an_id.stderr
    assert await store.read_stream(access_log_stream(request_id)) == []


@pytest.mark.parametrize(
    ("seconds", "spoken"),
    [
        (30, "under 1 min"),
        (5 * 60, "5 min"),
        (80 * 60 + 59, "1 h 20 min"),
        (2 * 3600, "2 h"),
        (27 * 3600, "1 d 3 h"),
        (48 * 3600, "2 d"),
    ],
)
def test_time_left_reads_as_a_person_says_it(seconds: int, spoken: str) -> None:
    assert duration(seconds) == spoken
