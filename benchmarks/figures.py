"""Figures: a measured value with its unit and target, and the helpers that measure them."""

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str  # e.g. "< 1" or ">= 1000": compared against value, in `unit`
    note: str = ""

    @property
    def met(self) -> bool | None:
        op, _, bound = self.target.partition(" ")
        if not bound:
            return None
        bound_value = float(bound)
        return {
            "<": self.value < bound_value,
            "<=": self.value <= bound_value,
            ">": self.value > bound_value,
            ">=": self.value >= bound_value,
        }.get(op)

    def as_json(self) -> dict:
        data = asdict(self)
        del data["name"]
        return {**data, "met": self.met}


def median_seconds(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> float:
    """Median wall time of `repeat` calls after `warmup` unmeasured ones (medians resist noise)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)
