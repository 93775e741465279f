"""CPU time for the tests that judge how a cost grows."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def cpu_seconds(call: Callable[[], T]) -> tuple[float, T]:
    """The CPU seconds ``call()`` takes, and what it returned; the collector first brought to the same
    state every time: whatever the tests before left on the heap, one call must not
    pay for a full collection of it and the next not (the heap's cost, not the call's)."""
    gc.collect()
    started = time.process_time()
    result = call()
    return time.process_time() - started, result
