"""Capped exponential backoff with full jitter, for every call to the service."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base: float = 0.5
    cap: float = 60.0
    attempt: int = 0
    _random: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        """Seconds to wait before the next try: random in [0, min(cap, base·2^attempt)]."""
        ceiling = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        # a floor of a tenth keeps a fleet from hammering a service that just came back
        return max(ceiling / 10, self._random.uniform(0, ceiling))

    def reset(self) -> None:
        self.attempt = 0
