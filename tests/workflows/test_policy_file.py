"""The agreement's TOML file: loading the demo, and naming every mistake in a bad file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from workflows.policy import DataSharingAgreement
from workflows.policy_file import PolicyError, check_policy_file, load_policy

DEMO_POLICY = Path(__file__).parents[2] / "policy" / "demo-dsa.toml"


# -- a good file ------------------------------------------------------------------------------


def test_loading_resolves_england_and_wales_bank_holidays(policy: DataSharingAgreement) -> None:
    holidays = policy.calendar.bank_holidays

    assert holidays.years == (2026, 2028)  # effective year to the year after the review
    assert {date(2026, 5, 25), date(2026, 8, 31), date(2026, 12, 28)} <= set(holidays.dates)
    assert date(2026, 3, 17) not in holidays.dates  # St Patrick's Day: Northern Ireland only


def test_check_policy_file_summarises_a_valid_file() -> None:
    summary = check_policy_file(DEMO_POLICY)

    assert summary.startswith(f"{DEMO_POLICY}: valid\n")
    assert "10 agencies (9 signatories)" in summary
    assert "red 2 h round the clock, amber 6 h working hours, green 24 h working hours" in summary
    assert "digest sha256:" in summary


# -- bad policy files -------------------------------------------------------------------------


def demo_variant(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """The demo policy with each ``(old, new)`` text edit applied once, as a new file."""
    text = DEMO_POLICY.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, f"the demo policy no longer contains {old!r}"
        text = text.replace(old, new, 1)
    path = tmp_path / "dsa.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> PolicyError:
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    return raised.value


def test_a_missing_field_is_named_with_its_file(tmp_path: Path) -> None:
    path = demo_variant(
        tmp_path, ('bus_subject = "sharehub.agency.wandle-park-academy.disclosures"\n', "")
    )

    assert str(load_error(path)) == f"{path}: agencies[3].bus_subject: Field required"


def test_a_toml_syntax_error_gives_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('id = "wandlebury-hub-dsa"\nversion = \n', encoding="utf-8")

    error = load_error(path)

    assert str(error) == f"{path}: line 2, column 11: invalid TOML: Invalid value"
    assert error.path == str(path)


def test_every_problem_gets_a_line(tmp_path: Path) -> None:
    path = demo_variant(
        tmp_path,
        ('type = "school"', 'type = "academy"'),
        ('duration = "PT6H"', 'duration = "six hours"'),
        ("signatory = true", "signatory = true\nsignatury = true"),
    )

    lines = str(load_error(path)).splitlines()

    assert [line.split(": ")[1] for line in lines] == [
        "agencies[0].signatury",
        "agencies[2].type",
        "sla.amber.duration",
    ]
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert "Extra inputs are not permitted" in lines[0]
    assert "'children_social_care'" in lines[1]


def test_an_incomplete_sla_table_is_refused(tmp_path: Path) -> None:
    path = demo_variant(tmp_path, ('[sla.amber]\nduration = "PT6H"\nclock = "working_hours"\n', ""))

    assert str(load_error(path)) == f"{path}: sla.amber: Field required"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('id = "wandle-park-academy"', 'id = "st-aldhelms-primary"'),
            "agencies[3].id: duplicate id 'st-aldhelms-primary'",
        ),
        (
            (
                'bus_subject = "sharehub.agency.wandle-park-academy.disclosures"',
                'bus_subject = "sharehub.agency.st-aldhelms-primary.disclosures"',
            ),
            "agencies[3].bus_subject: duplicate bus_subject "
            "'sharehub.agency.st-aldhelms-primary.disclosures'",
        ),
        (
            (
                'operation_encompass = ["domestic_abuse_notifications"]',
                'operation_encompass = ["domestic_abuse_notification"]',
            ),
            "agencies[2].may_receive.operation_encompass[0]: "
            "unknown category 'domestic_abuse_notification'",
        ),
        (
            (
                'early_help = ["household_composition"]\n\n\n',
                'erly_help = ["household_composition"]\n',
            ),
            "agencies[9].may_receive.erly_help: unknown purpose 'erly_help'",
        ),
        (
            ('id = "early_help"', 'id = "missing_child"'),
            "purposes[6].id: duplicate id 'missing_child'",
        ),
        (
            ("review_by = 2027-03-31", "review_by = 2025-03-31"),
            "review_by: must be after effective_from",
        ),
    ],
)
def test_cross_references_are_checked(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = demo_variant(tmp_path, edit)

    assert f"{path}: {message}" in str(load_error(path)).splitlines()


def test_calendar_mistakes_are_named(tmp_path: Path) -> None:
    hours = demo_variant(tmp_path, ("opens_at = 09:00:00", "opens_at = 18:00:00"))
    assert str(load_error(hours)) == (
        f"{hours}: calendar: Value error, opens_at 18:00:00 must be before closes_at 17:00:00"
    )

    zone = demo_variant(tmp_path, ('timezone = "Europe/London"', 'timezone = "Europe/Wandlebury"'))
    assert str(load_error(zone)) == (
        f"{zone}: calendar.timezone: Value error, unknown time zone 'Europe/Wandlebury'"
    )

    region = demo_variant(tmp_path, ('subdivision = "ENG"', 'subdivision = "XYZ"'))
    assert str(load_error(region)).startswith(f"{region}: calendar.bank_holidays: ")


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    assert str(load_error(missing)) == f"{missing}: file: No such file or directory"

    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('title = "Café"\n'.encode("latin-1"))
    assert str(load_error(latin1)).startswith(f"{latin1}: file: not UTF-8 text")
