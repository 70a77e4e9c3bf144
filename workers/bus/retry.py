"""Retrying with backoff, for the long-running services that wait out an outage.

The relay, bus intake and the checkpointer run for as long as their process
does: a server that is down (NATS, PostgreSQL, Temporal) is waited for, never
given up on, since a process that gave up would only be restarted to fail the
same way. Example::

    client = await retry_until_it_works(
        "connect to Temporal",
        connect,
        backoff=Backoff(first=0.5, longest=10.0),
        logger=logger,
    )

Cancellation is never retried: ``asyncio.CancelledError`` is not an ``Exception``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Delays between attempts: ``first``, doubled after each failure, up to ``longest``.

    ``Backoff(first=2.0, longest=2.0)`` waits two seconds every time.
    """

    first: float
    longest: float

    def delays(self) -> Iterator[float]:
        """The delay before each retry, for as many retries as it takes."""
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.longest)


async def retry_until_it_works(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    logger: logging.Logger,
    retried: type[Exception] | tuple[type[Exception], ...] = Exception,
    first_failure_level: int = logging.WARNING,
    later_failure_level: int = logging.DEBUG,
    before_retry: Callable[[Exception], Awaitable[None]] | None = None,
) -> T:
    """``attempt()``'s result, retried with ``backoff`` for as long as it takes.

    Args:
        what: what the attempt does, for the log ("connect to NATS").
        attempt: makes one attempt; called again after each failure.
        backoff: how long to wait before each retry.
        logger: the caller's logger, so the log says who is waiting.
        retried: the failures worth waiting out; any other exception is raised.
        first_failure_level: the log level of the first failure...
        later_failure_level: ... and of each one after it (by default quieter:
            an outage is announced once, not every few seconds).
        before_retry: called with the failure after the wait, before the next
            attempt (e.g. to re-create what the failure says is missing).
    """
    delays = backoff.delays()
    failures = 0
    while True:
        try:
            return await attempt()
        except retried as error:
            if failures == 0:
                logger.log(
                    first_failure_level, "cannot %s (%r); retrying with backoff", what, error
                )
            else:
                logger.log(later_failure_level, "still cannot %s (%r)", what, error)
            failures += 1
            await asyncio.sleep(next(delays))
            if before_retry is not None:
                await before_retry(error)
