"""The periodicity scoring (sql/periodicity.sql, shared by DQ-NET-002 beacons and DQ-NET-006
relays) against an independent computation of the formula docs/detectors.md gives: retries
collapsed first, Bowley skew and median absolute deviation of the intervals and of the sizes,
time coverage in bins that follow the pair's own interval, duration over the window, count,
and the prevalence penalty. Every column the detectors read is compared, for pairs chosen to
sit on the formula's branches (constant intervals, zero bytes, a pair that retries below the
minimum count, a destination shared by two sources, a score under the floor)."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pyarrow as pa
import pytest

from duqhunt.detectors.base import periodicity_sql
from duqhunt.engines.duckdb import DuckDBEngine

T0 = 1_700_000_000.0
C2 = "198.51.100.7"

Row = dict[str, Any]


def _sessions() -> list[Row]:
    rng = random.Random(11)
    rows: list[Row] = []

    def add(kind: str, src: str, dst: str, ts: float, size: float) -> None:
        rows.append(
            {
                "kind": kind,
                "src": src,
                "dst": dst,
                "ts": ts,
                "bytes": size,
                "proto": "tcp",
                "port": 443,
            }
        )

    # a jittered C&C beacon (+-20 %) that retries one second later now and then
    t = T0 + 300.0
    while t < T0 + 86400.0:
        add("ip", "10.0.0.5", C2, t, float(rng.randint(2000, 2600)))
        if rng.random() < 0.2:
            add("ip", "10.0.0.5", C2, t + 1.0, 2100.0)
        t += 600.0 * rng.uniform(0.8, 1.2)
    # a second source of the same destination (prevalence), over half a day
    for k in range(40):
        add("ip", "10.0.0.6", C2, T0 + 3600.0 + k * 900.0, 700.0)
    # the same destination named by TLS SNI: another kind, counted apart
    for k in range(30):
        add("tls-sni", "10.0.0.5", "cdn.example.net", T0 + k * 1200.0 + rng.uniform(0, 30), 0.0)
    # a heartbeat with constant interval and size (the quartiles coincide)
    for k in range(50):
        add("ip", "10.0.0.7", "203.0.113.9", T0 + k * 300.0, 512.0)
    # a keep-alive of 200 or 201 bytes: the size quartiles one byte apart (a skew of its own)
    for k in range(20):
        add("ip", "10.0.0.11", "203.0.113.13", T0 + k * 600.0, 200.0 + (k % 10 >= 7))
    # requests whose Host header names that address, sent elsewhere: the same text as a
    # destination, another kind, scored apart
    for k in range(12):
        add("http-host", "10.0.0.7", "203.0.113.9", T0 + 7.0 + k * 1000.0, 90.0)
    # eight contacts, three of them retries: eight raw rows pass the first count, five do not
    # pass the second
    for k in range(5):
        add("ip", "10.0.0.8", "203.0.113.10", T0 + k * 3600.0, 100.0)
        if k < 3:
            add("ip", "10.0.0.8", "203.0.113.10", T0 + k * 3600.0 + 0.5, 100.0)
    # seven contacts: below the minimum before anything is collapsed
    for k in range(7):
        add("ip", "10.0.0.9", "203.0.113.11", T0 + k * 600.0, 300.0)
    # a service fifteen hosts poll: widespread, its prevalence penalty reaches the cap
    for i in range(15):
        for k in range(30):
            add("ip", f"10.0.2.{i}", "203.0.113.20", T0 + i + k * 1800.0, 640.0)
    # irregular bursts over an hour: scored, but under the floor
    for _ in range(12):
        add("ip", "10.0.0.10", "203.0.113.12", T0 + rng.uniform(0, 3600.0), rng.uniform(1, 9000))
    rng.shuffle(rows)
    return rows


def _pct(values: list[float], p: float) -> float:
    """PERCENTILE_CONT: linear interpolation between the closest ranks."""
    v = sorted(values)
    pos = p * (len(v) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def _bowley(q1: float, q2: float, q3: float) -> float:
    return (q1 + q3 - 2.0 * q2) / (q3 - q1) if q3 - q1 > 0 else 0.0


def _expected(rows: list[Row], p: dict[str, float]) -> dict[tuple[str, str, str], Row]:
    pairs: dict[tuple[str, str, str], list[Row]] = {}
    for r in rows:
        pairs.setdefault((r["kind"], r["src"], r["dst"]), []).append(r)
    sources: dict[tuple[str, str], int] = {}
    dst_first: dict[tuple[str, str], float] = {}
    for (kind, _src, dst), rs in pairs.items():
        sources[(kind, dst)] = sources.get((kind, dst), 0) + 1
        first = min(r["ts"] for r in rs)
        dst_first[(kind, dst)] = min(dst_first.get((kind, dst), first), first)
    population = len({src for _, src, _ in pairs})
    out: dict[tuple[str, str, str], Row] = {}
    for key, rs in pairs.items():
        if len(rs) < p["min_conns"]:
            continue
        rs = sorted(rs, key=lambda r: r["ts"])
        # a retry: closer than retry_gap_s to the previous contact, collapsed before anything
        kept = [
            r for i, r in enumerate(rs) if i == 0 or r["ts"] - rs[i - 1]["ts"] >= p["retry_gap_s"]
        ]
        n = len(kept)
        if n < p["min_conns"]:
            continue
        ts = [r["ts"] for r in kept]
        size = [r["bytes"] for r in kept]
        deltas = [b - a for a, b in itertools.pairwise(ts)]
        tq1, tq2, tq3 = (_pct(deltas, q) for q in (0.25, 0.5, 0.75))
        bq1, bq2, bq3 = (_pct(size, q) for q in (0.25, 0.5, 0.75))
        tmad = _pct([abs(d - tq2) for d in deltas], 0.5)
        bmad = _pct([abs(b - bq2) for b in size], 0.5)
        bin_s = max(2.0 * tq2, p["min_bin_s"])
        bins = len({math.floor((x - ts[0]) / bin_s) for x in ts})
        span = max(ts[-1] - ts[0], 1.0)
        tb, bb = _bowley(tq1, tq2, tq3), _bowley(bq1, bq2, bq3)
        interval = (1 - abs(tb)) / 2 + (max(0.0, 1 - tmad / tq2) if tq2 > 0 else 0.0) / 2
        # sizes all zero (TLS names carry none): as regular as sizes can be
        size_mad = max(0.0, 1 - bmad / bq2) if bq2 > 0 else (1.0 if bmad == 0 else 0.0)
        size_score = (1 - abs(bb)) / 2 + size_mad / 2
        coverage = min(1.0, bins / math.ceil(span / bin_s))
        duration = min(1.0, span / (0.5 * p["window_s"]))
        count = min(1.0, n / p["full_count"])
        srcs = sources[(key[0], key[2])]
        hosts = p["internal_hosts"]
        penalty = 0.0 if hosts < 20 else min(0.5, max(0.0, srcs / hosts - 0.05))
        periodicity = (
            0.35 * interval + 0.15 * size_score + 0.2 * coverage + 0.2 * duration + 0.1 * count
        )
        score = periodicity * (1 - penalty)
        if score < p["min_score"]:
            continue
        out[key] = {
            "n": n,
            "first_ts": ts[0],
            "last_ts": ts[-1],
            "interval_s": tq2,
            "t_q1": tq1,
            "t_q3": tq3,
            "t_mad": tmad,
            "bytes_median": bq2,
            "b_mad": bmad,
            "bins_hit": bins,
            "sources": srcs,
            "t_bowley": tb,
            "interval_score": interval,
            "size_score": size_score,
            "coverage_score": coverage,
            "duration_score": duration,
            "count_score": count,
            "prevalence_penalty": penalty,
            "periodicity": periodicity,
            "dst_first_ts": dst_first[(key[0], key[2])],
            "population": population,
            "score": score,
        }
    return out


@pytest.mark.parametrize("internal_hosts", [40.0, 20.0, 19.0])
def test_periodicity_sql_is_the_documented_formula(internal_hosts: float) -> None:
    rows = _sessions()
    params: dict[str, float] = {
        "min_conns": 8,
        "retry_gap_s": 2.0,
        "window_s": 86400.0,
        "min_bin_s": 60.0,
        "full_count": 24.0,
        # 19: under 20 possible sources prevalence is not measured; 20: it is (capped at 0.5
        # for the service fifteen hosts poll); 40: below the cap, and 0 for two sources of 40
        "internal_hosts": internal_hosts,
        "min_score": 0.48,
    }
    eng = DuckDBEngine()
    try:
        eng.register_arrow("s", pa.Table.from_pylist(rows))
        got = eng.query(
            periodicity_sql("SELECT kind, src, dst, ts, bytes, proto, port FROM s"),
            {k: (int(v) if k == "min_conns" else v) for k, v in params.items()},
        ).to_pylist()
    finally:
        eng.close()
    want = _expected(rows, params)
    # the branches the fixture is built to reach
    assert ("ip", "10.0.0.8", "203.0.113.10") not in want  # collapsed below the minimum
    assert ("ip", "10.0.0.10", "203.0.113.12") not in want  # under the floor
    assert want[("ip", "10.0.0.7", "203.0.113.9")]["t_bowley"] == 0.0
    assert want[("tls-sni", "10.0.0.5", "cdn.example.net")]["bytes_median"] == 0.0
    assert want[("ip", "10.0.0.5", C2)]["sources"] == 2
    assert [(r["kind"], r["src"], r["dst"]) for r in got] == sorted(
        want, key=lambda k: (-want[k]["score"], k)
    )
    for r in got:
        exp = want[(r["kind"], r["src"], r["dst"])]
        assert (r["proto_min"], r["proto_max"], r["port_min"], r["port_max"]) == (
            "tcp",
            "tcp",
            443,
            443,
        )
        for col, value in exp.items():
            assert r[col] == pytest.approx(value, rel=1e-9, abs=1e-9), (r["src"], r["dst"], col)
