"""Pure helpers: percentiles, summaries and ratios of latency samples (milliseconds)."""

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(samples_ms: Sequence[float], *, seconds: float | None = None) -> dict[str, Any]:
    """n, p50/p90/p99 and mean in ms; with the wall time ``seconds`` the run took, throughput per second."""
    summary: dict[str, Any] = {
        "n": len(samples_ms),
        "p50": round(percentile(samples_ms, 50), 3),
        "p90": round(percentile(samples_ms, 90), 3),
        "p99": round(percentile(samples_ms, 99), 3),
        "mean": round(sum(samples_ms) / len(samples_ms), 3),
    }
    if seconds is not None and seconds > 0:
        summary["per_second"] = round(len(samples_ms) / seconds, 2)
    return summary


def ratio(value: float, floor: float) -> float:
    """How many times the floor a figure is (2 decimals); infinite when the floor is zero."""
    if floor <= 0:
        return math.inf
    return round(value / floor, 2)
