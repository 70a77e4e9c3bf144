"""``sharehub audit …`` and ``sharehub retention …``: the auditor's tools over the event store.

They read the store directly, with the database owner's URL, as ``db migrate``
does: the people who run them are trusted with the database, and the tools
must work when nothing else of the stack is running. Checkpoints are verified
with the public key alone; the signing key is only ever read by the relay's
checkpointer and by ``keygen``, which makes it.

Exit status: 0 as asked; 1 the log or a checkpoint does not verify, or a proof
cannot be given yet; 2 something to put right in the command or the set-up.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer

from workers.cli.common import fail, operator_actor, run_against_stack
from workers.settings import Settings

if TYPE_CHECKING:
    from events.read_models.replay import RequestReplay
    from workers.audit.verification import BusCopy

# Commands are imported by `sharehub --help` and every other command: everything
# beyond typer is imported inside them, as in workers.cli.
audit_app = typer.Typer(help="Auditor tools over the event store.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of personal data.", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as e:
        raise fail(f"{what}: not a UUID") from e


def _moment(value: str, what: str) -> datetime:
    """An ISO 8601 date or time; a time must say its zone (a date means its start, UTC)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as e:
        raise fail(f"{what}: not an ISO 8601 date or time (e.g. 2026-11-24T14:30:00Z)") from e
    if len(value) == 10:  # a bare date
        return datetime.combine(moment.date(), time(), tzinfo=UTC)
    if moment.tzinfo is None:
        raise fail(f"{what}: give the time zone too (e.g. 14:30:00Z or 14:30:00+00:00)")
    return moment


# --------------------------------------------------------------------- verify


@audit_app.command("verify")
def audit_verify(
    bus: Annotated[
        bool, typer.Option(help="Also compare the checkpoints' copy on the bus.")
    ] = True,
) -> None:
    """Walk the hash chain and check every signed checkpoint; 0 intact, 1 at the first failure.

    Checkpoints are checked with the public key only: each signature, the log's
    Merkle root at each one's size, and consistency between consecutive ones.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from workers.audit.verification import verify_now
    from workers.resources import open_event_store

    settings = Settings()

    async def run() -> int:
        async with await open_event_store(settings, max_connections=2) as store:
            total = await store.head_position()
            with Progress(
                TextColumn("verifying"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("events"),
                transient=True,
                disable=total < 10_000,
            ) as progress:
                task = progress.add_task("verify", total=total)
                verification = await verify_now(
                    store,
                    settings,
                    bus=bus,
                    on_progress=lambda done: progress.update(task, completed=done),
                )
        if verification.trusted.key is None and verification.unchecked:
            raise fail(f"cannot check the signed checkpoints: {verification.trusted.problem}")
        if verification.bus_copy.state == "unreadable":
            raise fail(f"bus copy: {verification.bus_copy.problem}", 1)
        report = verification.report
        brk, failure = report.first_break, report.checkpoint_failure
        if brk is not None:
            typer.secho(
                f"chain BROKEN at global position {brk.global_position}: {brk.reason} "
                f"({report.events_checked} events before it verified)",
                err=True,
                fg=typer.colors.RED,
            )
        if failure is not None:
            typer.secho(
                f"checkpoint FAILED at tree size {failure.tree_size}: {failure.reason} "
                f"({report.checkpoints_checked} checkpoints before it verified)",
                err=True,
                fg=typer.colors.RED,
            )
        if not report.intact:
            return 1
        typer.echo(
            f"chain intact: {report.events_checked} events verified, "
            f"head hash {report.head_hash.hex()}"
        )
        latest = report.latest_checkpoint
        if verification.trusted.key is None or latest is None:
            typer.echo("checkpoints: none signed yet")
        else:
            typer.echo(
                f"checkpoints verified: {report.checkpoints_checked} (signature, Merkle root, "
                f"consistency with the one before); latest at tree size {latest.tree_size}, "
                f"signed {latest.signed_at.isoformat(timespec='seconds')} "
                f"by key {latest.key_id.hex()[:16]}…"
            )
        bus_note = _bus_note(verification.bus_copy)
        if bus_note:
            typer.echo(bus_note)
        return 0

    raise typer.Exit(run_against_stack(run))


def _bus_note(copy: BusCopy) -> str | None:
    """What ``verify`` says of the checkpoints' bus copy (nothing when it was not read)."""
    match copy.state:
        case "compared":
            return f"bus copy: {copy.compared} checkpoints on {copy.stream} compared"
        case "no NATS":
            return "bus copy: not compared (no NATS configured: SHAREHUB_NATS_URL)"
        case "unreachable":
            return f"bus copy: not compared (NATS unreachable: {copy.problem})"
    return None


# --------------------------------------------------------------------- replay


@audit_app.command("replay")
def audit_replay(
    request_id: Annotated[str, typer.Argument(help="The share request's id.", show_default=False)],
    at: Annotated[
        str | None,
        typer.Option(help="As recorded by this moment (ISO 8601 with zone, or a date)."),
    ] = None,
    position: Annotated[
        int | None, typer.Option(min=0, help="As recorded up to this global position.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """A share request as it stood at a moment, rebuilt only from the event store.

    Records the view in the request's access log.
    """
    from events.read_models.replay import replay_request_at
    from workers.hub.records import record_viewed
    from workers.resources import open_event_store

    parsed = _uuid(request_id, "REQUEST_ID")
    moment = None if at is None else _moment(at, "--at")
    if moment is not None and position is not None:
        raise fail("give --at or --position, not both")

    async def run() -> int:
        async with await open_event_store(Settings(), max_connections=2) as store:
            replay = await replay_request_at(store, parsed, at=moment, position=position)
            if replay is None:
                raise fail(f"no share request {parsed} is recorded")
            await record_viewed(
                store,
                parsed,
                record="share_request_state",
                by=operator_actor(),
                via="sharehub audit replay",
            )
        if as_json:
            typer.echo(json.dumps(replay_json(replay), indent=2, default=str))
        else:
            _print_replay(replay)
        return 0

    raise typer.Exit(run_against_stack(run))


def replay_json(replay: RequestReplay) -> dict[str, Any]:
    """The replay as JSON: the state, and the events behind it without personal data."""
    from workers.hub.records import timeline_entry, with_actor_names

    state, names = replay.state, replay.actor_names
    return {
        "request_id": str(replay.request_id),
        "at": replay.at,
        "position": replay.position,
        "request": with_actor_names(state.request, names),
        "disclosures": [with_actor_names(d, names) for d in state.disclosures],
        "advice": [with_actor_names(a, names) for a in state.advice],
        "events_applied": state.events_applied,
        "events_after_the_moment": replay.later,
        "timeline": [timeline_entry(e, names) for e in replay.applied],
    }


def _print_replay(replay: RequestReplay) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    moment = (
        f"as recorded by {replay.at.isoformat()}"
        if replay.at is not None
        else f"up to global position {replay.position}"
        if replay.position is not None
        else "now"
    )
    console.print(f"[bold]share request {replay.request_id}[/bold], {moment}")
    request = replay.state.request
    if request is None:
        console.print("nothing was recorded about it yet")
        return
    decided = request.get("outcome") or "not decided"
    rows = [
        ("stage", request["stage"]),
        (
            "raised",
            f"{request['raised_at']:%Y-%m-%d %H:%M:%S %Z} by {request['raised_by']}"
            f" ({request['referrer_agency']})",
        ),
        ("purpose", request["purpose"]),
        ("recipients asked for", ", ".join(request["recipients"])),
        ("lawful basis proposed", request["lawful_basis"]),
        ("RAG rating", request.get("rag") or "not triaged"),
        (
            "SLA deadline",
            f"{request['sla_deadline']:%Y-%m-%d %H:%M:%S %Z}"
            if request.get("sla_deadline")
            else "—",
        ),
        ("decision", decided),
        ("decided by", _who(replay, request.get("decided_by"))),
        ("signed off by", _who(replay, request.get("signed_off_by"))),
        ("family step", request.get("family_step") or "—"),
        ("policy version", request["policy_version"]),
    ]
    table = Table(show_header=False, box=None)
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    if replay.state.advice:
        console.print(
            f"advice: {len(replay.state.advice)} asked, "
            f"{sum(1 for a in replay.state.advice if a.get('answered_at'))} answered"
        )
    timeline = Table("position", "recorded", "event", "by")
    for event in replay.applied:
        timeline.add_row(
            str(event.global_position),
            f"{event.recorded_at:%Y-%m-%d %H:%M:%S.%f %Z}",
            event.type,
            f"{_who(replay, event.actor.id)} ({event.actor.role})",
        )
    console.print(timeline)
    if replay.later:
        console.print(f"{replay.later} later events are not part of this moment")


def _who(replay: RequestReplay, actor_id: str | None) -> str:
    """The API client's name, and its id as recorded; an id that is no client's (an
    older event's name, sharehub itself) as recorded."""
    if not actor_id:
        return "—"
    name = replay.name_of(actor_id)
    return name if name == actor_id else f"{name} [{actor_id}]"


# --------------------------------------------------------------------- report


@audit_app.command("report")
def audit_report(
    start: Annotated[
        str,
        typer.Option(
            "--from",
            help="First day or moment of the period (ISO 8601), included.",
            show_default=False,
        ),
    ],
    end: Annotated[
        str,
        typer.Option(
            "--to", help="Day or moment the period ends (ISO 8601), excluded.", show_default=False
        ),
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="csv (a table), json, or fhir (an R5 Bundle).")
    ] = "csv",
    agency: Annotated[
        str | None,
        typer.Option(help="Only requests this agency raised or received a share in."),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Add who looked at each reported request.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of to stdout.")
    ] = None,
) -> None:
    """Golden rule 7: one row per decision in the period, with its basis, reasons and outcome.

    With --access-log, csv writes the access log as a second table beside
    --output (NAME-access-log.csv); json and fhir carry it inside. Producing a
    report reads who each child is, so it is put on each request's access log.
    """
    from workers.audit.report import decision_report
    from workers.audit.report_formats import (
        REPORT_FORMATS,
        render_access_log_csv,
        render_report,
    )
    from workers.hub.records import record_viewed
    from workers.resources import open_event_store

    if fmt not in REPORT_FORMATS:
        raise fail(f"--format: one of {', '.join(REPORT_FORMATS)}, not {fmt!r}")
    period_start, period_end = _moment(start, "--from"), _moment(end, "--to")
    if period_end <= period_start:
        raise fail("--to must be after --from")
    if access_log and fmt == "csv" and output is None:
        raise fail("--access-log with csv writes two tables: give --output FILE.csv")

    async def run() -> int:
        async with await open_event_store(Settings(), max_connections=5) as store:
            try:
                report = await decision_report(
                    store,
                    start=period_start,
                    end=period_end,
                    agency=agency,
                    include_access_log=access_log,
                )
            except ValueError as e:
                raise fail(str(e)) from e
            for row in report.decisions:
                await record_viewed(
                    store,
                    row.request_id,
                    record="decision_report",
                    by=operator_actor(),
                    via="sharehub audit report",
                )
        rendered = render_report(report, fmt)
        if output is None:
            typer.echo(rendered.decode("utf-8-sig"), nl=False)
            return 0
        output.write_bytes(rendered)
        typer.echo(f"{len(report.decisions)} decisions written to {output}", err=True)
        if access_log and fmt == "csv" and report.access_log is not None:
            beside = output.with_name(f"{output.stem}-access-log{output.suffix or '.csv'}")
            beside.write_bytes(render_access_log_csv(report))
            typer.echo(f"{len(report.access_log)} views written to {beside}", err=True)
        return 0

    raise typer.Exit(run_against_stack(run))


# ---------------------------------------------------------------------- prove


@audit_app.command("prove")
def audit_prove(
    event_id: Annotated[str, typer.Argument(help="The event's id.", show_default=False)],
    as_json: AsJson = False,
) -> None:
    """An inclusion proof that an event is in the log the latest signed checkpoint covers.

    Anyone with the checkpoint (its tree size, root and signature) and the
    public key can check the proof without the rest of the log.
    """
    from events.errors import ProofUnavailable
    from events.verify import prove_inclusion
    from workers.audit.verification import trusted_key
    from workers.resources import open_event_store

    parsed = _uuid(event_id, "EVENT_ID")
    settings = Settings()

    async def run() -> int:
        async with await open_event_store(settings, max_connections=2) as store:
            try:
                proof = await prove_inclusion(store, parsed)
            except ProofUnavailable as e:
                raise fail(str(e), 1) from e
        signature = trusted_key(settings).signature_verdict(proof.checkpoint)
        verifies = proof.verifies()
        checkpoint = proof.checkpoint
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "event_id": str(proof.event_id),
                        "global_position": proof.global_position,
                        "leaf_index": proof.leaf_index,
                        "event_hash": proof.event_hash.hex(),
                        "audit_path": [h.hex() for h in proof.audit_path],
                        "checkpoint": checkpoint.as_json(),
                        "proof_verifies": verifies,
                        "signature": signature,
                    },
                    indent=2,
                )
            )
        else:
            typer.echo(
                f"event {proof.event_id} at global position {proof.global_position}\n"
                f"event hash   {proof.event_hash.hex()}\n"
                f"checkpoint   tree size {checkpoint.tree_size}, root "
                f"{checkpoint.root_hash.hex()}, signed "
                f"{checkpoint.signed_at.isoformat(timespec='seconds')}\n"
                f"signature    {signature}\n"
                f"audit path   {len(proof.audit_path)} hashes (RFC 9162 §2.1.3, leaf index "
                f"{proof.leaf_index})"
            )
            for node in proof.audit_path:
                typer.echo(f"  {node.hex()}")
            typer.echo(
                "inclusion proof verifies against the checkpoint's root"
                if verifies
                else "inclusion proof does NOT verify"
            )
        return 0 if verifies and signature == "verifies" else 1

    raise typer.Exit(run_against_stack(run))


# --------------------------------------------------------------------- keygen


@audit_app.command("keygen")
def audit_keygen(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the private key (PEM); the public key goes beside "
            "it as .pub. Default: SHAREHUB_AUDIT_SIGNING_KEY_FILE or the home folder."
        ),
    ] = None,
) -> None:
    """Make the Ed25519 key pair that signs checkpoints; never replaces an existing key.

    Keep the private key out of the database and its backups; publish the
    public key to auditors (SHAREHUB_AUDIT_PUBLIC_KEY_FILE).
    """
    from events.signed_checkpoints import key_id
    from workers.audit.keys import AuditKeyError, generate_key_pair

    settings = Settings()
    private = out or settings.resolved_audit_signing_key_file()
    public = private.with_suffix(".pub") if out else settings.resolved_audit_public_key_file()
    try:
        key = generate_key_pair(private, public)
    except AuditKeyError as e:
        raise fail(str(e)) from e
    typer.echo(f"private key: {private} (mode 600; keep it out of the database)")
    typer.echo(f"public key:  {public}")
    typer.echo(f"key id:      {key_id(key).hex()}")


# ------------------------------------------------------------------ retention


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what is due; destroy nothing.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(help="Treat this moment as now (ISO 8601), e.g. to see what falls due."),
    ] = None,
) -> None:
    """Destroy the subject keys of requests finished longer ago than the policy keeps them.

    Each one is recorded as a SubjectShredded event. Reports then show those
    requests' children as redacted; the chain and checkpoints still verify.
    """
    from events.retention import run_retention
    from workers.resources import open_event_store
    from workflows.policy_file import PolicyError, load_policy

    settings = Settings()
    now = datetime.now(UTC) if as_of is None else _moment(as_of, "--as-of")
    try:
        policy = load_policy(settings.policy_file)
    except PolicyError as e:
        raise fail(str(e)) from e
    years = policy.retention.years_after_closure

    async def run() -> int:
        async with await open_event_store(settings, max_connections=2) as store:
            result = await run_retention(
                store,
                years=years,
                policy_version=policy.version,
                now=now,
                actor=operator_actor(),
                dry_run=dry_run,
            )
        verb = "due (dry run, nothing destroyed)" if dry_run else "shredded"
        typer.echo(
            f"retention: {years} years after a request finishes (policy {policy.id} "
            f"v{policy.version}); {len(result.shredded)} subjects {verb}"
        )
        for subject in result.shredded:
            typer.echo(
                f"  {subject.subject_id}: finished {subject.finished_at:%Y-%m-%d}, "
                f"due from {subject.due_from:%Y-%m-%d}"
            )
        return 0

    raise typer.Exit(run_against_stack(run))
