"""Failed API key attempts, counted per client address: after too many, wait.

Both web doors take API keys: the API as a bearer token, the console on its sign-in
page. Each failed attempt is counted against the client's address (as the server
sees it: behind a trusted proxy, ``X-Forwarded-For``); once an address has made
``SHAREHUB_FAILED_KEY_ATTEMPTS`` within ``SHAREHUB_FAILED_KEY_WINDOW_SECONDS``, every
attempt from it is refused unchecked (429 with ``Retry-After``) until the oldest of
them leaves the window. Keys are 256-bit secrets, so this is not what keeps them
from being guessed; it keeps a scan from hammering the log and the database, and
makes it visible: each failure is logged with the address and the door, never the key.

The counts live in the process: several API processes behind one address each
allow their own share.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from workers.settings import Settings

logger = logging.getLogger(__name__)

_MOST_ADDRESSES = 100_000  # beyond this, the addresses quiet the longest are forgotten


class KeyAttemptThrottle:
    def __init__(
        self, *, allowed: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._allowed = allowed
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try a key again, or ``None`` if it may now."""
        failures = self._recent(address)
        if len(failures) < self._allowed:
            return None
        return max(1, math.ceil(failures[0] + self._window - self._clock()))

    def failed(self, address: str, *, door: str) -> None:
        """Count a failed attempt from ``address`` (logged without the key)."""
        failures = self._recent(address)
        failures.append(self._clock())
        self._failures.pop(address, None)
        self._failures[address] = failures  # most recently failed last
        while len(self._failures) > _MOST_ADDRESSES:
            del self._failures[next(iter(self._failures))]
        held = len(failures) >= self._allowed
        logger.warning(
            "%s: an API key was refused for client address %s (%d failed in %g s%s)",
            door,
            address,
            len(failures),
            self._window,
            "; it must wait before trying again" if held else "",
        )

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address, deque())
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures


def key_attempts(state: Any, settings: Settings) -> KeyAttemptThrottle:
    """The throttle of one app (kept on its ``state``), shared by its doors."""
    found: KeyAttemptThrottle | None = getattr(state, "key_attempts", None)
    if found is None:
        found = state.key_attempts = KeyAttemptThrottle(
            allowed=settings.failed_key_attempts,
            window_seconds=settings.failed_key_window_seconds,
        )
    return found
