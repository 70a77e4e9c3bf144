"""Working-hours arithmetic: the SLA boundaries named in issue #3, and properties over any start.

Europe/London is GMT (UTC+0) in winter and BST (UTC+1) in summer; 2026's changes are on
Sunday 29 March and Sunday 25 October.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.calendar import CalendarRangeError, ClockKind, SlaClock, WorkingCalendar
from workflows.policy import bank_holiday_dates

LONDON = ZoneInfo("Europe/London")
YEARS = range(2025, 2030)
ENGLAND = WorkingCalendar(
    closed_dates=frozenset(bank_holiday_dates("GB", "ENG", YEARS)), known_years=YEARS
)
RED = timedelta(hours=2)
AMBER = timedelta(hours=6)
GREEN = timedelta(hours=24)


def london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def clock(started_at: datetime, duration: timedelta, kind: ClockKind) -> SlaClock:
    return SlaClock.compute(started_at=started_at, duration=duration, clock=kind, calendar=ENGLAND)


def reminder_times(sla: SlaClock) -> list[datetime]:
    return [reminder.due_at for reminder in sla.reminders]


# -- the boundaries named in the issue --------------------------------------------------------


def test_amber_raised_friday_1630_is_due_monday_1430() -> None:
    # 30 minutes on Friday, then 5 h 30 on Monday.
    sla = clock(london(2026, 6, 12, 16, 30), AMBER, ClockKind.WORKING_HOURS)

    assert sla.deadline == london(2026, 6, 15, 14, 30)
    # 50 % = 3 h of working time: 30 min Friday + 2 h 30 Monday; 80 % = 4 h 48 min.
    assert reminder_times(sla) == [london(2026, 6, 15, 11, 30), london(2026, 6, 15, 13, 18)]
    assert [reminder.fraction for reminder in sla.reminders] == [0.5, 0.8]
    assert sla.counting_from == sla.started_at
    assert not sla.handed_to_emergency_duty_team


@pytest.mark.parametrize(
    ("friday", "tuesday"),
    [
        (date(2026, 5, 22), date(2026, 5, 26)),  # Spring Bank Holiday, Monday 25 May
        (date(2026, 8, 28), date(2026, 9, 1)),  # Summer Bank Holiday, Monday 31 August
    ],
)
def test_amber_over_a_bank_holiday_monday_continues_on_tuesday(friday: date, tuesday: date) -> None:
    sla = clock(datetime.combine(friday, time(16, 30), LONDON), AMBER, ClockKind.WORKING_HOURS)

    on_tuesday = [datetime.combine(tuesday, at, LONDON) for at in (time(11, 30), time(13, 18))]
    assert reminder_times(sla) == on_tuesday
    assert sla.deadline == datetime.combine(tuesday, time(14, 30), LONDON)


def test_red_at_0200_is_due_at_0400_and_handed_to_the_emergency_duty_team() -> None:
    sla = clock(london(2026, 3, 10, 2), RED, ClockKind.ROUND_THE_CLOCK)

    assert sla.deadline == london(2026, 3, 10, 4)
    assert reminder_times(sla) == [london(2026, 3, 10, 3), london(2026, 3, 10, 3, 36)]
    assert sla.handed_to_emergency_duty_team


def test_red_in_working_hours_stays_with_the_hub_even_past_closing() -> None:
    # Red work runs to completion out of hours; only a start out of hours goes to the EDT.
    sla = clock(london(2026, 3, 10, 16), RED, ClockKind.ROUND_THE_CLOCK)

    assert sla.deadline == london(2026, 3, 10, 18)
    assert not sla.handed_to_emergency_duty_team


def test_red_on_a_bank_holiday_is_handed_to_the_emergency_duty_team() -> None:
    sla = clock(london(2026, 5, 25, 11), RED, ClockKind.ROUND_THE_CLOCK)

    assert sla.deadline == london(2026, 5, 25, 13)
    assert sla.handed_to_emergency_duty_team


def test_green_24_working_hours_is_three_working_days() -> None:
    assert ENGLAND.add_working_time(london(2026, 6, 15, 10), GREEN) == london(2026, 6, 18, 10)
    # Wednesday 10:00: Wednesday, Thursday, Friday, then Monday morning.
    assert ENGLAND.add_working_time(london(2026, 6, 17, 10), GREEN) == london(2026, 6, 22, 10)


def test_green_over_easter_skips_good_friday_and_easter_monday() -> None:
    # Thursday 2 April 2026 at 09:00: Thursday, then Tuesday 7 and Wednesday 8 April.
    assert ENGLAND.add_working_time(london(2026, 4, 2, 9), GREEN) == london(2026, 4, 8, 17)


def test_amber_raised_at_the_weekend_starts_counting_on_monday_morning() -> None:
    sla = clock(london(2026, 6, 13, 10), AMBER, ClockKind.WORKING_HOURS)

    assert sla.counting_from == london(2026, 6, 15, 9)
    assert reminder_times(sla) == [london(2026, 6, 15, 12), london(2026, 6, 15, 13, 48)]
    assert sla.deadline == london(2026, 6, 15, 15)


def test_amber_raised_before_opening_starts_counting_at_nine() -> None:
    sla = clock(london(2026, 6, 16, 7, 15), AMBER, ClockKind.WORKING_HOURS)

    assert sla.counting_from == london(2026, 6, 16, 9)
    assert sla.deadline == london(2026, 6, 16, 15)


# -- changes of clock -------------------------------------------------------------------------


def test_amber_over_the_weekend_the_clocks_go_forward() -> None:
    started = london(2026, 3, 27, 16, 30)  # GMT
    deadline = ENGLAND.add_working_time(started, AMBER)

    assert deadline == london(2026, 3, 30, 14, 30)  # BST
    assert deadline == datetime(2026, 3, 30, 13, 30, tzinfo=UTC)
    assert ENGLAND.working_time_between(started, deadline) == AMBER


def test_amber_over_the_weekend_the_clocks_go_back() -> None:
    started = london(2026, 10, 23, 16, 30)  # BST
    deadline = ENGLAND.add_working_time(started, AMBER)

    assert deadline == london(2026, 10, 26, 14, 30)  # GMT
    assert deadline == datetime(2026, 10, 26, 14, 30, tzinfo=UTC)


def test_red_across_the_skipped_hour_lasts_two_real_hours() -> None:
    sla = clock(london(2026, 3, 29, 0, 30), RED, ClockKind.ROUND_THE_CLOCK)

    # 00:30 GMT + 2 h = 02:30 UTC = 03:30 BST on the wall clock.
    assert sla.deadline == datetime(2026, 3, 29, 2, 30, tzinfo=UTC)
    assert sla.deadline.astimezone(LONDON).time() == time(3, 30)
    assert sla.handed_to_emergency_duty_team


def test_red_across_the_repeated_hour_lasts_two_real_hours() -> None:
    sla = clock(london(2026, 10, 25, 0, 30), RED, ClockKind.ROUND_THE_CLOCK)

    # 00:30 BST + 2 h = 01:30 UTC = 01:30 GMT: the wall clock moved on only one hour.
    assert sla.deadline == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert sla.deadline.astimezone(LONDON).time() == time(1, 30)


def test_hours_inside_a_change_of_clocks_open_at_the_jump_and_at_the_first_repeat() -> None:
    # An odd calendar, open on Sundays 01:30-03:00, to pin down the local-time edge cases.
    night_shift = WorkingCalendar(
        working_weekdays=frozenset({6}),
        opens_at=time(1, 30),
        closes_at=time(3),
        closed_dates=frozenset(),
    )
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)

    # 01:30 never happens in spring: the hub opens when the clocks jump, 01:00 UTC.
    assert night_shift.next_opening(datetime.combine(spring, time(0), LONDON)) == datetime(
        2026, 3, 29, 1, tzinfo=UTC
    )
    assert night_shift.working_time_between(
        datetime.combine(spring, time(0), LONDON), datetime.combine(spring, time(12), LONDON)
    ) == timedelta(hours=1)
    # 01:30 happens twice in autumn: the hub opens at the first, 00:30 UTC.
    assert night_shift.next_opening(datetime.combine(autumn, time(0), LONDON)) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    assert night_shift.working_time_between(
        datetime.combine(autumn, time(0), LONDON), datetime.combine(autumn, time(12), LONDON)
    ) == timedelta(hours=2, minutes=30)


# -- opening hours at their edges -------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (london(2026, 6, 15, 9), True),
        (london(2026, 6, 15, 16, 59) + timedelta(seconds=59, microseconds=999_999), True),
        (london(2026, 6, 15, 17), False),
        (london(2026, 6, 15, 9) - timedelta(microseconds=1), False),
        (london(2026, 6, 13, 12), False),  # Saturday
        (london(2026, 5, 25, 12), False),  # Spring Bank Holiday
        (london(2026, 12, 28, 12), False),  # Boxing Day, observed on Monday
    ],
)
def test_is_open(moment: datetime, is_open: bool) -> None:
    assert ENGLAND.is_open(moment) is is_open


def test_a_deadline_that_fills_the_day_is_closing_time_not_next_morning() -> None:
    assert ENGLAND.add_working_time(london(2026, 6, 15, 11), AMBER) == london(2026, 6, 15, 17)


def test_counting_from_closing_time_starts_the_next_working_morning() -> None:
    friday_close = london(2026, 6, 12, 17)
    assert ENGLAND.add_working_time(friday_close, timedelta(minutes=1)) == london(2026, 6, 15, 9, 1)
    assert ENGLAND.next_opening(friday_close) == london(2026, 6, 15, 9)
    assert ENGLAND.add_working_time(friday_close, timedelta(0)) == london(2026, 6, 15, 9)


def test_next_opening_of_an_open_moment_is_that_moment() -> None:
    assert ENGLAND.next_opening(london(2026, 6, 15, 10)) == london(2026, 6, 15, 10)


def test_next_opening_after_christmas_2026() -> None:
    # Christmas Friday, the weekend, Boxing Day observed on Monday 28 December.
    assert ENGLAND.next_opening(london(2026, 12, 24, 17)) == london(2026, 12, 29, 9)


def test_working_time_between() -> None:
    assert ENGLAND.working_time_between(
        london(2026, 6, 12, 16, 30), london(2026, 6, 15, 10)
    ) == timedelta(hours=1, minutes=30)
    assert ENGLAND.working_time_between(london(2026, 6, 13, 1), london(2026, 6, 14, 23)) == (
        timedelta(0)
    )


@pytest.mark.parametrize(
    ("decided_at", "told_by"),
    [
        (london(2026, 6, 16, 15), london(2026, 6, 17, 15)),  # Tuesday -> Wednesday
        (london(2026, 6, 12, 15), london(2026, 6, 15, 15)),  # Friday -> Monday
        (london(2026, 6, 13, 10), london(2026, 6, 15, 17)),  # Saturday -> end of Monday
        (london(2026, 5, 22, 15), london(2026, 5, 26, 15)),  # over the bank holiday
    ],
)
def test_add_one_working_day(decided_at: datetime, told_by: datetime) -> None:
    assert ENGLAND.add_working_days(decided_at, 1) == told_by


def test_results_are_utc_whatever_zone_the_start_is_given_in() -> None:
    in_london = london(2026, 6, 12, 16, 30)
    in_new_york = in_london.astimezone(ZoneInfo("America/New_York"))

    deadline = ENGLAND.add_working_time(in_new_york, AMBER)

    assert deadline == ENGLAND.add_working_time(in_london, AMBER)
    assert deadline.tzinfo is UTC
    assert clock(in_new_york, AMBER, ClockKind.WORKING_HOURS).deadline.tzinfo is UTC


# -- refusals ---------------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 6, 15, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        ENGLAND.is_open(naive)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        ENGLAND.add_working_time(naive, AMBER)
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        ENGLAND.working_time_between(london(2026, 6, 15, 10), naive)
    with pytest.raises(ValueError, match="started_at must be timezone-aware"):
        clock(naive, AMBER, ClockKind.WORKING_HOURS)


def test_negative_spans_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        ENGLAND.add_working_time(london(2026, 6, 15, 10), timedelta(hours=-1))
    with pytest.raises(ValueError, match="before start"):
        ENGLAND.working_time_between(london(2026, 6, 15, 10), london(2026, 6, 15, 9))
    with pytest.raises(ValueError, match="positive"):
        clock(london(2026, 6, 15, 10), timedelta(0), ClockKind.WORKING_HOURS)


def test_reminder_fractions_must_lie_inside_the_sla() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        SlaClock.compute(
            started_at=london(2026, 6, 15, 10),
            duration=AMBER,
            clock=ClockKind.WORKING_HOURS,
            calendar=ENGLAND,
            reminder_fractions=(0.5, 1.0),
        )


def test_a_year_without_known_closed_days_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarRangeError, match="2030-01-02 is outside the years 2025-2029"):
        ENGLAND.add_working_time(london(2030, 1, 2, 10), AMBER)
    with pytest.raises(CalendarRangeError):
        # Counting from New Year's Eve 2029 runs into 2030.
        ENGLAND.add_working_time(london(2029, 12, 31, 16), AMBER)


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"opens_at": time(17), "closes_at": time(9)}, "must be before"),
        ({"working_weekdays": frozenset()}, "non-empty"),
        ({"working_weekdays": frozenset({7})}, "0 \\(Mon\\)-6 \\(Sun\\)"),
        ({"timezone": "Europe/Wandlebury"}, "unknown time zone"),
        ({"known_years": range(2026, 2026)}, "non-empty range"),
    ],
)
def test_an_impossible_calendar_is_refused(settings_: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar(closed_dates=frozenset(), **settings_)  # type: ignore[arg-type]


# -- properties -------------------------------------------------------------------------------


def _offset_changes(zone: ZoneInfo, years: range) -> list[datetime]:
    """Noon (UTC) of each day whose UTC offset differs from the next day's."""
    changes = []
    day = datetime(years[0], 1, 1, 12, tzinfo=UTC)
    while day.year in years:
        if (
            day.astimezone(zone).utcoffset()
            != (day + timedelta(days=1)).astimezone(zone).utcoffset()
        ):
            changes.append(day)
        day += timedelta(days=1)
    return changes


_ZONES = [LONDON, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe")]
_CHANGES = [change for zone in _ZONES for change in _offset_changes(zone, range(2026, 2028))]

# Any moment in 2026-2028, or one within two days of a change of clocks somewhere.
moments = st.one_of(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 20), timezones=st.just(UTC)
    ),
    st.builds(
        lambda change, shift: change + shift,
        st.sampled_from(_CHANGES),
        st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=2)),
    ),
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=72))
times_of_day = st.times()


@st.composite
def calendars(draw: st.DrawFn) -> WorkingCalendar:
    """Any hours, any working days, in zones whose clocks change by an hour or half an hour."""
    # At least a quarter of an hour open: with a few microseconds a day, 72 hours of
    # open time would lie beyond year 9999.
    opens = draw(st.times(max_value=time(23, 44)))
    closes = draw(
        st.times(min_value=(datetime.combine(date.min, opens) + timedelta(minutes=15)).time())
    )
    return WorkingCalendar(
        timezone=str(draw(st.sampled_from(_ZONES))),
        working_weekdays=frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
        opens_at=opens,
        closes_at=closes,
        closed_dates=frozenset(draw(st.sets(st.dates(date(2026, 1, 1), date(2028, 12, 31))))),
    )


any_calendar = st.one_of(st.just(ENGLAND), calendars())


@settings(deadline=None)
@given(calendar=any_calendar, start=moments, duration=durations)
def test_the_working_time_up_to_a_deadline_is_the_duration(
    calendar: WorkingCalendar, start: datetime, duration: timedelta
) -> None:
    deadline = calendar.add_working_time(start, duration)

    assert calendar.working_time_between(start, deadline) == duration
    assert calendar.working_time_between(start, deadline) <= deadline - start


@settings(deadline=None)
@given(calendar=any_calendar, start=moments, duration=durations)
def test_a_deadline_falls_in_open_time_or_at_closing_time(
    calendar: WorkingCalendar, start: datetime, duration: timedelta
) -> None:
    deadline = calendar.add_working_time(start, duration)

    if duration:
        # The last microsecond counted was open; the deadline may be closing time itself.
        assert calendar.is_open(deadline - timedelta(microseconds=1))
    else:
        assert deadline == calendar.next_opening(start)
        assert calendar.is_open(deadline)


@settings(deadline=None)
@given(
    calendar=any_calendar,
    start=moments,
    later_by=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    duration=durations,
    more=durations,
)
def test_deadlines_are_monotonic(
    calendar: WorkingCalendar,
    start: datetime,
    later_by: timedelta,
    duration: timedelta,
    more: timedelta,
) -> None:
    deadline = calendar.add_working_time(start, duration)

    assert deadline >= start
    assert calendar.add_working_time(start, duration + more) >= deadline
    assert calendar.add_working_time(start + later_by, duration) >= deadline


@settings(deadline=None)
@given(calendar=any_calendar, start=moments, first=durations, second=durations)
def test_adding_in_two_steps_gives_the_same_deadline(
    calendar: WorkingCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    # A zero second step would move a closing-time deadline on to the next opening.
    if second:
        halfway = calendar.add_working_time(start, first)
        assert calendar.add_working_time(halfway, second) == calendar.add_working_time(
            start, first + second
        )


@settings(deadline=None)
@given(calendar=any_calendar, start=moments, first=durations, second=durations)
def test_working_time_adds_up_across_a_split(
    calendar: WorkingCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    middle, end = start + first, start + first + second

    assert calendar.working_time_between(start, end) == (
        calendar.working_time_between(start, middle) + calendar.working_time_between(middle, end)
    )


@settings(deadline=None)
@given(calendar=any_calendar, moment=moments)
def test_next_opening_is_open_and_nothing_before_it_is(
    calendar: WorkingCalendar, moment: datetime
) -> None:
    opening = calendar.next_opening(moment)

    assert opening >= moment
    assert calendar.is_open(opening)
    assert calendar.working_time_between(moment, opening) == timedelta(0)


@settings(deadline=None)
@given(start=moments, kind=st.sampled_from(ClockKind), hours=st.integers(1, 48))
def test_sla_moments_are_in_order_and_at_their_fractions(
    start: datetime, kind: ClockKind, hours: int
) -> None:
    duration = timedelta(hours=hours)
    sla = clock(start, duration, kind)

    due = [sla.counting_from, *reminder_times(sla), sla.deadline]
    assert due == sorted(due)
    assert all(moment.tzinfo is UTC for moment in due)
    for reminder in sla.reminders:
        if kind is ClockKind.WORKING_HOURS:
            elapsed = ENGLAND.working_time_between(start, reminder.due_at)
        else:
            elapsed = reminder.due_at - start
        assert elapsed == duration * reminder.fraction
    if kind is ClockKind.ROUND_THE_CLOCK:
        assert sla.deadline - start == duration
        assert sla.handed_to_emergency_duty_team is not ENGLAND.is_open(start)
