"""Retry policies for steps that fail with application errors."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from raystra.errors import InvalidDefinitionError

__all__ = ["Backoff", "Jitter", "RetryPolicy"]


class Backoff(enum.StrEnum):
    """How the delay grows between attempts."""

    LINEAR = "LINEAR"
    EXPONENTIAL = "EXPONENTIAL"


class Jitter(enum.StrEnum):
    """Randomness added to the delay, so retries of many steps don't stampede."""

    FULL = "FULL"
    PLUS_MINUS = "PLUS_MINUS"


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failing step up to ``max_retries`` times, waiting ``delay`` seconds between.

    With ``backoff`` the delay grows per attempt: linear ``delay * n``, exponential
    ``delay * 2**(n-1)`` for the n-th retry.

    Example:
        >>> policy = RetryPolicy(max_retries=3, delay=0.5, backoff=Backoff.EXPONENTIAL)
        >>> [policy.delay_for(n) for n in (1, 2, 3)]
        [0.5, 1.0, 2.0]
    """

    max_retries: int = 1
    delay: float | None = None
    backoff: Backoff | None = None
    jitter: Jitter | None = None

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise InvalidDefinitionError(
                f"RetryPolicy(max_retries={self.max_retries}): max_retries must be 0 or more."
            )
        if self.delay is not None and self.delay < 0:
            raise InvalidDefinitionError(
                f"RetryPolicy(delay={self.delay}): delay must be 0 or more seconds."
            )

    def delay_for(self, retry_number: int) -> float:
        """Seconds to wait before the ``retry_number``-th retry (1 = first retry)."""
        base = self.delay or 0.0
        if self.backoff is Backoff.LINEAR:
            base *= retry_number
        elif self.backoff is Backoff.EXPONENTIAL:
            base *= 2 ** (retry_number - 1)
        if self.jitter is Jitter.FULL:
            base = random.uniform(0, base)
        elif self.jitter is Jitter.PLUS_MINUS:
            base = max(0.0, base + random.uniform(-base, base) / 2)
        return base
