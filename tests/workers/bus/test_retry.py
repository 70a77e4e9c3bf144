"""The one retry-with-backoff loop the relay, bus intake and the checkpointer share."""

from __future__ import annotations

import itertools
import logging

import pytest

from workers.bus.retry import Backoff, retry_until_it_works

logger = logging.getLogger("tests.retry")


def test_delays_double_up_to_the_longest() -> None:
    delays = Backoff(first=0.5, longest=3.0).delays()

    assert list(itertools.islice(delays, 5)) == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_fixed_delay_is_a_backoff_that_never_grows() -> None:
    delays = Backoff(first=2.0, longest=2.0).delays()

    assert list(itertools.islice(delays, 3)) == [2.0, 2.0, 2.0]


async def test_failures_are_retried_until_it_works(caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[int] = []
    seen_before_retry: list[str] = []

    async def flaky() -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) < 3:
            raise OSError(f"down ({len(attempts)})")
        return "up"

    async def before_retry(error: Exception) -> None:
        seen_before_retry.append(str(error))

    with caplog.at_level(logging.DEBUG, logger=logger.name):
        result = await retry_until_it_works(
            "reach the server",
            flaky,
            backoff=Backoff(first=0.001, longest=0.002),
            logger=logger,
            before_retry=before_retry,
        )

    assert result == "up"
    assert attempts == [1, 2, 3]
    assert seen_before_retry == ["down (1)", "down (2)"]
    # An outage is announced once; the failures after it are quieter.
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "cannot reach the server (OSError('down (1)')); retrying with backoff"),
        (logging.DEBUG, "still cannot reach the server (OSError('down (2)'))"),
    ]


async def test_only_the_failures_named_are_retried() -> None:
    attempts = 0

    async def buggy() -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        await retry_until_it_works(
            "do it",
            buggy,
            backoff=Backoff(first=0.001, longest=0.001),
            logger=logger,
            retried=(OSError, TimeoutError),
        )
    assert attempts == 1


async def test_every_failure_may_be_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    failures = iter([TimeoutError(), TimeoutError()])

    async def slow() -> int:
        for failure in failures:
            raise failure
        return 7

    with caplog.at_level(logging.DEBUG, logger=logger.name):
        assert (
            await retry_until_it_works(
                "answer",
                slow,
                backoff=Backoff(first=0.001, longest=0.001),
                logger=logger,
                later_failure_level=logging.WARNING,
            )
            == 7
        )
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
