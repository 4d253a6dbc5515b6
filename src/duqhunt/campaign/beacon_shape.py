"""The shape of the strongest beacons: how the gaps between contacts and the bytes sent per
contact are spread, as histograms for the report (report.html draws them).

A beacon's score and its median interval say "periodic", but an analyst checks it by eye: one
tall bar of gaps (a timer) with a few long ones (the machine was off), and one or two sizes
(the same check-in each time) look nothing like a person browsing. The contacts are the ones
DQ-NET-002 scored (beacon_sessions.sql) with retries collapsed the way periodicity.sql does,
so the reported interval is the median of the gaps counted here. A TLS SNI beacon has no size
histogram: ssl.log carries no byte count.

Bins are spaced logarithmically between the smallest and the largest value (a 5-minute timer
and a weekend off in one chart); sizes that include zero (HTTP requests without a body) start
at 0 on a log(1 + x) scale. Only the SHAPED strongest beacons get histograms: the report
stays small and the query reads only their pairs' contacts.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from duqhunt.detectors.base import HuntContext, load_sql, rescan_sql
from duqhunt.model.report import HistogramModel

__all__ = ["BINS", "SHAPED", "beacon_shapes", "histogram"]

log = logging.getLogger(__name__)

#: How many of the strongest beacons get histograms.
SHAPED = 5
#: Bins per histogram.
BINS = 20

# the pairs are scored ones, so the read joined to them needs no direction test per conn row
_SESSIONS = rescan_sql(load_sql("duqhunt.detectors.net", "beacon_sessions.sql"))
_CONTACTS_SQL = f"""WITH sessions AS (
{_SESSIONS}
)
SELECT s.kind, s.src, s.dst, s.ts, s.bytes
FROM sessions s
JOIN shape_pairs p ON p.kind = s.kind AND p.src = s.src AND p.dst = s.dst
ORDER BY s.kind, s.src, s.dst, s.ts
"""

Pair = tuple[str, str, str]


def _edges(lo: float, hi: float, bins: int) -> list[float]:
    lo, hi = round(lo, 3), round(hi, 3)  # milliseconds and bytes: finer says nothing
    if hi <= lo:
        return [lo, hi]
    if lo <= 0:  # zero bytes: log(1 + x) from 0
        top = math.log1p(hi)
        return [0.0] + [round(math.expm1(top * k / bins), 3) for k in range(1, bins)] + [hi]
    ratio = hi / lo
    inner = [round(lo * ratio ** (k / bins), 3) for k in range(1, bins)]
    return [lo, *inner, hi]


def histogram(values: Iterable[float], bins: int = BINS) -> HistogramModel | None:
    """`values` over `bins` logarithmic bins from their smallest to their largest (see the
    module docstring); one bin when they are all equal; None when there are none."""
    data = sorted(v for v in values if math.isfinite(v) and v >= 0)
    if not data:
        return None
    edges = _edges(data[0], data[-1], bins)
    counts = [0] * (len(edges) - 1)
    for v in data:  # a value rounded off an end edge still lands in the end bin
        i = bisect.bisect_right(edges, v) - 1
        counts[min(max(i, 0), len(counts) - 1)] += 1
    return HistogramModel(edges=edges, counts=counts)


def _kept(rows: Sequence[tuple[float, float]], retry_gap_s: float) -> list[tuple[float, float]]:
    """The contacts periodicity.sql scores: one closer than `retry_gap_s` to the contact
    before it (kept or not) is a retry."""
    out: list[tuple[float, float]] = []
    prev: float | None = None
    for ts, size in rows:
        if prev is None or ts - prev >= retry_gap_s:
            out.append((ts, size))
        prev = ts
    return out


def beacon_shapes(
    ctx: HuntContext, pairs: Sequence[Pair], retry_gap_s: float
) -> dict[Pair, tuple[HistogramModel | None, HistogramModel | None]]:
    """(interval histogram, size histogram) of each (kind, src, dst) in `pairs`. A failed
    query costs the histograms, not the report (logged)."""
    if not pairs:
        return {}
    wanted = pa.table(
        {
            "kind": pa.array([p[0] for p in pairs], pa.string()),
            "src": pa.array([p[1] for p in pairs], pa.string()),
            "dst": pa.array([p[2] for p in pairs], pa.string()),
        }
    )
    try:
        ctx.engine.register_arrow("shape_pairs", wanted)
        table = ctx.engine.query(_CONTACTS_SQL)
    except (pa.ArrowException, *ctx.engine.errors) as exc:
        log.warning("beacon histograms not computed: %s", exc)
        return {}
    rows: dict[Pair, list[tuple[float, float]]] = {}
    cols: dict[str, list[Any]] = table.to_pydict()
    for kind, src, dst, ts, size in zip(
        cols["kind"], cols["src"], cols["dst"], cols["ts"], cols["bytes"], strict=True
    ):
        rows.setdefault((str(kind), str(src), str(dst)), []).append((float(ts), float(size or 0.0)))
    out: dict[Pair, tuple[HistogramModel | None, HistogramModel | None]] = {}
    for pair, contacts in rows.items():
        kept = _kept(contacts, retry_gap_s)
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(kept)]
        # ssl.log gives no byte count per TLS session: no size histogram for SNI beacons
        sizes = None if pair[0] == "tls-sni" else histogram(s for _, s in kept)
        out[pair] = (histogram(gaps), sizes)
    return out
