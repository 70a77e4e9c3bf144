"""Working-hours arithmetic for SLA clocks: pure, no I/O, every datetime timezone-aware.

A hub is open on its working weekdays between an opening and a closing time in its own
time zone (Mon-Fri 09:00-17:00 Europe/London by default) and closed on bank holidays and
extra closure days. Amber and green SLA clocks count only open time; red counts real time
round the clock, and a red request raised while the hub is closed goes to the Emergency
Duty Team.

    >>> calendar = WorkingCalendar(closed_dates=frozenset())
    >>> friday = datetime(2026, 6, 12, 16, 30, tzinfo=ZoneInfo("Europe/London"))
    >>> calendar.add_working_time(friday, timedelta(hours=6)).isoformat()
    '2026-06-15T13:30:00+00:00'

Every result is in UTC, and all arithmetic is done in UTC: subtracting two datetimes that
share a ``ZoneInfo`` compares wall-clock readings, which is an hour wrong across a change
to or from British Summer Time.

The calendar is given its closed dates; it never computes bank holidays (see
``workflows.policy``). Inside a Temporal workflow import this module through
``workflow.unsafe.imports_passed_through()``: the sandbox wraps ``zoneinfo.ZoneInfo`` in a
proxy that ``datetime`` refuses as a tzinfo.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict

_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)


class ClockKind(enum.StrEnum):
    """Which time an SLA clock counts."""

    ROUND_THE_CLOCK = "round_the_clock"
    WORKING_HOURS = "working_hours"


class CalendarRangeError(ValueError):
    """A computation reached a year for which the calendar does not know the closed days.

    Raised rather than guessing: a deadline that silently ignores a bank holiday would
    be wrong in the record for good.
    """


@dataclass(frozen=True, kw_only=True)
class WorkingCalendar:
    """When a hub is open: working weekdays, opening hours, and dates it is closed.

    Args:
        timezone: IANA name of the hub's time zone.
        working_weekdays: ``date.weekday()`` numbers of the working days (Monday is 0).
        opens_at: local opening time on a working day.
        closes_at: local closing time; the hub is open from ``opens_at`` up to, not
            including, ``closes_at``.
        closed_dates: bank holidays and extra closure days.
        known_years: the years for which ``closed_dates`` is complete; a computation
            touching a day outside them raises ``CalendarRangeError``. ``None`` trusts
            ``closed_dates`` for every year.
    """

    timezone: str = "Europe/London"
    working_weekdays: frozenset[int] = frozenset(range(5))
    opens_at: time = time(9)
    closes_at: time = time(17)
    closed_dates: frozenset[date]
    known_years: range | None = None

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {self.timezone!r}") from e
        if not self.working_weekdays or not self.working_weekdays <= set(range(7)):
            raise ValueError("working_weekdays must be a non-empty set of numbers 0 (Mon)-6 (Sun)")
        if self.opens_at.tzinfo is not None or self.closes_at.tzinfo is not None:
            raise ValueError("opening and closing times are local times, without a time zone")
        if not self.opens_at < self.closes_at:
            raise ValueError(f"opens_at {self.opens_at} must be before closes_at {self.closes_at}")
        if self.known_years is not None and (self.known_years.step != 1 or not self.known_years):
            raise ValueError("known_years must be a non-empty range of consecutive years")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches its instances: this is a lookup

    @property
    def working_day(self) -> timedelta:
        """The open time in one ordinary working day (8 hours for 09:00-17:00)."""
        return datetime.combine(date.min, self.closes_at) - datetime.combine(
            date.min, self.opens_at
        )

    def is_open(self, moment: datetime) -> bool:
        """Whether the hub is open at ``moment``; closing time itself counts as closed."""
        moment = _as_utc(moment, "moment")
        hours = self._opening_hours(self._local_date(moment))
        return hours is not None and hours[0] <= moment < hours[1]

    def next_opening(self, moment: datetime) -> datetime:
        """``moment`` itself if the hub is open then, else the next time it opens."""
        moment = _as_utc(moment, "moment")
        for opens, closes in self._open_days_from(self._local_date(moment)):
            if moment < closes:
                return max(moment, opens)
        raise AssertionError("unreachable: _open_days_from never ends")

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of open time after ``start``: an SLA deadline.

        Counting begins at ``start`` if the hub is open, else at its next opening. A
        deadline that uses up a day's open time exactly is that day's closing time, not
        the next morning; a zero duration gives the moment counting begins.
        """
        start = _as_utc(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        remaining = duration
        for opens, closes in self._open_days_from(self._local_date(start)):
            if start >= closes:
                continue
            begin = max(start, opens)
            if remaining <= closes - begin:
                return begin + remaining
            remaining -= closes - begin
        raise AssertionError("unreachable: _open_days_from never ends")

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """``days`` whole working days of open time after ``moment``.

        "The referrer is told the outcome within one working day": a decision on Tuesday
        at 15:00 is due by Wednesday 15:00; one on Saturday by Monday 17:00.
        """
        if days < 0:
            raise ValueError(f"days must not be negative, got {days}")
        return self.add_working_time(moment, days * self.working_day)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much open time lies between ``start`` and ``end`` (``end`` not before ``start``)."""
        start, end = _as_utc(start, "start"), _as_utc(end, "end")
        if end < start:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        total = timedelta(0)
        day, last_day = self._local_date(start), self._local_date(end)
        while day <= last_day:
            hours = self._opening_hours(day)
            if hours is not None:
                total += max(timedelta(0), min(hours[1], end) - max(hours[0], start))
            day += _ONE_DAY
        return total

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def local_date(self, moment: datetime) -> date:
        """The hub's calendar date at ``moment``."""
        return self._local_date(_as_utc(moment, "moment"))

    def opening_on(self, day: date) -> datetime:
        """Opening time on ``day`` in the hub's time zone, as a UTC moment."""
        return datetime.combine(day, self.opens_at, tzinfo=self.zone).astimezone(UTC)

    def _open_days_from(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """Opening and closing instants of each open day from ``day`` on, without end."""
        while True:
            hours = self._opening_hours(day)
            if hours is not None:
                yield hours
            if day == date.max:  # a calendar with almost no open time, and no known years
                raise CalendarRangeError("the calendar has no open time left before year 9999")
            day += _ONE_DAY

    def _opening_hours(self, day: date) -> tuple[datetime, datetime] | None:
        """When the hub opens and closes on ``day``, in UTC; ``None`` if closed all day."""
        if self.known_years is not None and day.year not in self.known_years:
            first, last = self.known_years[0], self.known_years[-1]
            raise CalendarRangeError(
                f"{day.isoformat()} is outside the years {first}-{last} "
                "for which this calendar knows the closed days"
            )
        if day.weekday() not in self.working_weekdays or day in self.closed_dates:
            return None
        return self._first_instant_at(day, self.opens_at), self._first_instant_at(
            day, self.closes_at
        )

    def _first_instant_at(self, day: date, at: time) -> datetime:
        """The first instant at which the local clock on ``day`` reads ``at`` or later.

        A time repeated when the clocks go back means its first occurrence; a time skipped
        when they go forward means the instant of the jump. This keeps every opening
        before its closing however the hours meet a change of offset.
        """
        local = datetime.combine(day, at, tzinfo=self.zone)  # fold=0: the first occurrence
        instant = local.astimezone(UTC)
        if instant.astimezone(self.zone).replace(tzinfo=None) == local.replace(tzinfo=None):
            return instant
        # ``at`` is skipped. zoneinfo reads it with the old offset (fold=0: just after the
        # jump) or the new one (fold=1: just before it); the jump lies between.
        before, after = local.replace(fold=1).astimezone(UTC), instant
        new_offset = after.astimezone(self.zone).utcoffset()
        while after - before > _ONE_MICROSECOND:
            middle = before + (after - before) // 2
            if middle.astimezone(self.zone).utcoffset() == new_offset:
                after = middle
            else:
                before = middle
        return after


class SlaReminder(BaseModel):
    """A reminder that a share request has used ``fraction`` of its SLA time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fraction: float
    due_at: AwareDatetime


class SlaClock(BaseModel):
    """The moments of one SLA clock, all in UTC: reminders, then breach at the deadline.

    For a working-hours clock, ``counting_from`` is the hub's next opening when it starts
    out of hours, and the reminders fall at fractions of the open time. A round-the-clock
    clock started while the hub is closed is handed to the Emergency Duty Team.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    clock: ClockKind
    duration: timedelta
    started_at: AwareDatetime
    counting_from: AwareDatetime
    reminders: tuple[SlaReminder, ...]
    deadline: AwareDatetime
    handed_to_emergency_duty_team: bool

    @classmethod
    def compute(
        cls,
        *,
        started_at: datetime,
        duration: timedelta,
        clock: ClockKind,
        calendar: WorkingCalendar,
        reminder_fractions: Sequence[float] = (0.5, 0.8),
    ) -> SlaClock:
        """The clock of an SLA of ``duration`` that starts at ``started_at``."""
        started_at = _as_utc(started_at, "started_at")
        if duration <= timedelta(0):
            raise ValueError(f"an SLA duration must be positive, got {duration}")
        if any(not 0 < fraction < 1 for fraction in reminder_fractions):
            raise ValueError(
                f"reminder fractions must lie strictly between 0 and 1, got "
                f"{list(reminder_fractions)}"
            )

        def after(elapsed: timedelta) -> datetime:
            if clock is ClockKind.ROUND_THE_CLOCK:
                return started_at + elapsed
            return calendar.add_working_time(started_at, elapsed)

        return cls(
            clock=clock,
            duration=duration,
            started_at=started_at,
            counting_from=after(timedelta(0)),
            reminders=tuple(
                SlaReminder(fraction=fraction, due_at=after(duration * fraction))
                for fraction in sorted(reminder_fractions)
            ),
            deadline=after(duration),
            handed_to_emergency_duty_team=(
                clock is ClockKind.ROUND_THE_CLOCK and not calendar.is_open(started_at)
            ),
        )


def _as_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)
