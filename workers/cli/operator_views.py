"""How the operator commands print: rich tables for people, JSON for scripts.

stdout carries what a script reads (a request id, a JSON document, a table); notes
for the person at the terminal go to stderr. Recorded text is printed as it is,
never read as rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from workflows.models import ActionResult

# Imported by every operator command: rich is imported inside the functions that draw.


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def note(message: str) -> None:
    """What a person reads; stdout keeps what a script reads."""
    typer.echo(message, err=True)


def print_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def print_verdict(result: ActionResult) -> None:
    typer.echo(f"{result.detail}: share request {result.request_id} is now {result.stage.value}")


def duration(seconds: float) -> str:
    """``seconds`` for a person: "45 min", "1 h 20 min", "2 d 3 h"."""
    minutes = int(seconds) // 60
    if minutes < 1:
        return "under 1 min"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def _time_left(row: dict[str, Any], now: datetime) -> str:
    """Rich markup for the queue's "time left" column."""
    if row["stage"] == "raised":  # the hub owes a rating from the moment it is raised
        return f"[yellow]to rate · {duration((now - row['raised_at']).total_seconds())}"
    deadline = row["sla_deadline"]
    if row["stage"] != "triaged" or deadline is None:
        return "[dim]—"
    edt = " [magenta](EDT)" if row["handed_to_emergency_duty_team"] else ""
    left = (deadline - now).total_seconds()
    if left < 0:
        return f"[bold red]overdue by {duration(-left)}{edt}"
    return f"{duration(left)}{edt}"


_RAG_STYLE = {"red": "bold red", "amber": "yellow", "green": "green", "blue": "blue"}


def queue_table(items: list[dict[str, Any]], *, more: bool, width: int) -> Any:
    """The queue as a table; on a narrow terminal without referrer and purpose."""
    from rich import box
    from rich.table import Table

    now = datetime.now(UTC)
    wide = width >= 130
    caption = f"{len(items)} requests" + (" (more beyond --limit)" if more else "")
    table = Table(
        title="sharehub: the hub's queue", caption=caption, box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("request", no_wrap=True, min_width=36)  # whole: it is what you act on
    table.add_column("stage")
    table.add_column("RAG", no_wrap=True)
    table.add_column("time left", no_wrap=wide)
    if wide:
        table.add_column("referrer", overflow="fold")
        table.add_column("purpose", overflow="fold")
    for row in items:
        rag = row["rag"] or ""
        cells = [
            str(row["request_id"]),
            row["stage"].replace("_", " "),
            f"[{_RAG_STYLE.get(rag, '')}]{rag}" if rag else "",
            _time_left(row, now),
        ]
        if wide:
            cells += [_text(row["referrer_agency"]), _text(row["purpose"])]
        table.add_row(*cells)
    return table


def _text(value: object) -> str:
    """Recorded text, shown as it is (never read as rich markup)."""
    from rich.markup import escape

    return escape(str(value))


def _local(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.astimezone():%Y-%m-%d %H:%M}"


def print_request(console: Console, view: dict[str, Any]) -> None:
    """A request in full for hub staff; personal data included, as they asked to see it."""
    from rich.table import Table

    console.print(f"[bold]share request {view['request_id']}[/]  {view['stage']}")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    rag = view["rag"]
    for label, value in (
        ("raised", _text(f"{_local(view['raised_at'])} by {view['raised_by']}")),
        ("referrer", _text(view["referrer_agency"])),
        ("purpose", _text(view["purpose"])),
        ("lawful basis", _text(view["lawful_basis"])),
        ("consent", _text(view["consent"])),
        ("RAG", f"[{_RAG_STYLE.get(rag, '')}]{rag}" if rag else "not rated"),
        ("SLA deadline", _local(view["sla_deadline"]) or "—"),
        ("outcome", _outcome(view)),
        ("family", _family(view)),
    ):
        facts.add_row(label, value)
    if view["stage"] in ("raised", "triaged"):
        facts.add_row("time left", _time_left(view, datetime.now(UTC)))
    console.print(facts)

    console.print("\n[bold]child[/]")
    if view["redacted"]:
        console.print("[dim]personal data destroyed: the subject's key was shredded")
    else:
        _print_child(console, view["child"], view["details"])

    console.print()
    asked = _section("asked for")
    asked.add_column("recipient", no_wrap=True)
    asked.add_column("categories")
    for agency, categories in view["recipients"].items():
        asked.add_row(_text(agency), _text(", ".join(categories)))
    console.print(asked)

    if view["disclosures"]:
        sent = _section("disclosures")
        for column in ("recipient", "categories", "sent", "acknowledge by", "acknowledged"):
            sent.add_column(column)
        for d in view["disclosures"]:
            sent.add_row(
                _text(d["agency"]),
                _text(", ".join(d["categories"])),
                _local(d["sent_at"]),
                _local(d["acknowledge_by"]),
                _text(f"{_local(d['acknowledged_at'])} by {d['acknowledged_by']}")
                if d["acknowledged_at"]
                else "[red]overdue"
                if d["overdue_at"]
                else "not yet",
            )
        console.print(sent)

    if view["advice"]:
        advice = _section("advice")
        for column in ("sought", "question", "due by", "advice"):
            advice.add_column(column)
        for a in view["advice"]:
            advice.add_row(
                _text(f"{_local(a['sought_at'])} by {a['sought_by']}"),
                _text(a["question"]),
                _local(a["due_by"]),
                _text(f"{a['advice']} ({a['answered_by']})") if a["answered_at"] else "not yet",
            )
        console.print(advice)

    timeline = _section("timeline")
    for column in ("#", "when", "what", "who", ""):
        timeline.add_column(column, no_wrap=column in ("#", "when", "what"))
    for entry in view["timeline"]:
        actor = entry["actor"]
        timeline.add_row(
            str(entry["global_position"]),
            _local(entry["occurred_at"]),
            entry["type"],
            _text(f"{actor.get('name') or actor['id']} ({actor['role']})"),
            _text(_summary(entry["type"], entry["data"])),
        )
    console.print(timeline)


def _section(title: str) -> Any:
    from rich import box
    from rich.table import Table

    return Table(title=f"[bold]{title}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)


def _outcome(view: dict[str, Any]) -> str:
    if view["outcome"] is None:
        return "not decided"
    text = _text(f"{view['outcome']}, {_local(view['decided_at'])} by {view['decided_by']}")
    if view["signed_off_by"]:
        text += _text(f", signed off by {view['signed_off_by']}")
    elif view["stage"] == "awaiting_sign_off":
        text += ", [yellow]awaiting a hub manager's sign-off"
    return text


def _family(view: dict[str, Any]) -> str:
    step = view["family_step"]
    if step is None:
        return "—"
    if step == "deferred" and view["family_revisit_on"]:
        return f"deferred to {view['family_revisit_on']}"
    return _text(step)


def _print_child(console: Console, child: dict[str, Any], details: dict[str, Any]) -> None:
    identifier = child.get("nhs_number") or f"no NHS number: {child.get('absence_reason')}"
    console.print(f"  identifier: {_text(identifier)}")
    for person in details.get("people", []):
        line = f"  {person['role']}: {person['given_names']} {person['family_name']}"
        if person.get("date_of_birth"):
            line += f", born {person['date_of_birth']}"
        address = person.get("address") or {}
        parts = [*address.get("lines", []), address.get("town"), address.get("postcode")]
        if any(parts):
            line += ", " + ", ".join(p for p in parts if p)
        console.print(_text(line))
    console.print(f"  concern: {_text(details.get('concern_summary', ''))}")


# The fields worth a timeline line, by event type; others show their short scalar fields.
_SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "ShareRequestRaised": ("purpose",),
    "TriageRecorded": ("rag", "rationale"),
    "AdviceSought": ("question",),
    "AdviceGiven": ("advice",),
    "DecisionRecorded": ("outcome", "lawful_basis", "reasons", "sign_off_needed_because"),
    "DecisionSignedOff": ("comment",),
    "DisclosureSent": ("agency", "categories"),
    "DisclosureAcknowledged": ("agency",),
    "FamilyStepRecorded": ("kind", "reason", "revisit_on"),
    "ShareRequestWithdrawn": ("reason",),
    "ShareRequestClosed": ("outcome",),
}


def _summary(event_type: str, data: dict[str, Any]) -> str:
    fields: Iterable[str] = _SUMMARY_FIELDS.get(event_type) or (
        name for name, value in data.items() if isinstance(value, str | int | float | bool)
    )
    parts = []
    for name in fields:
        value = data.get(name)
        if value in (None, [], ""):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{name}: {value}")
    return "; ".join(parts)
