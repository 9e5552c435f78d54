"""Statistics of repetitions: median, min-max and percentiles."""

import math


def percentile(values, p):
    """The p-th percentile (0-100) by the nearest-rank method, or None."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values):
    """The median (mean of the two middle values for an even count), or None."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def summary(values):
    """{median, min, max, n, values} of the repetitions of one figure."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": median(values), "min": min(values), "max": max(values), "n": len(values),
            "values": values}
