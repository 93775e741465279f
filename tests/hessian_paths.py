"""What the Hessian path tests share: ``SecondOrder.at`` by the NumPy plan with the C
kernel set aside, and the fastest of a few calls (on a shared machine every other
call of a millisecond can lose the core for a scheduler slice)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gradcli.hessian import HessianResult, SecondOrder


def by_the_plan(second: SecondOrder, point: dict[str, float]) -> HessianResult:
    """``second.at(point)`` by the plan, the C kernel (when built) set aside."""
    native, second.native = second.native, None
    try:
        return second.at(point)
    finally:
        second.native = native


def fastest(call: Callable[[], Any], runs: int) -> float:
    """The fastest of ``runs`` calls, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)
