"""The cost of a finding from detector to report.json, in CPU time.

    PYTHONPATH=src .venv/bin/python benchmarks/findings_bench.py [--n 20000] [--repeat 5]

A detector builds findings in the thousands on big inputs (one per event before repeats are
merged), so what one finding costs on its way matters. Each pass builds ``--n`` findings of one
registered host detector through ``Detector.finding`` (two evidence lines and three details
each, as the host family's findings carry), pickles and unpickles them (document findings come
back from worker processes), joins them into a report document through
``analysis.build_report`` (without identities and groups, which are costs of their own) and
renders it with ``render_json`` (its size and hash show whether report.json changed). Every step is timed in CPU time of this process
(``time.process_time``), not wall time: the machine is shared, and wall time there measures the
neighbours. The best of ``--repeat`` passes is printed per step, in microseconds per finding.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from duqhunt.analysis import AnalysisResult, build_report
from duqhunt.detectors.host.events import ServiceInstalls
from duqhunt.model import Evidence
from duqhunt.render.jsonout import render_json


def _findings(n: int) -> list[Any]:
    det = ServiceInstalls
    return [
        det.finding(
            (f"svc{i}",),
            f"service svc{i} installed: remote-execution tool service",
            "medium",
            0.612345,
            f"WS{i % 50:03d}",
            1318550400.0 + i,
            1318550460.5 + i,
            (
                Evidence(source="System.evtx", locator=f"record {i}", summary="7045 svc"),
                Evidence(source="Security.evtx", locator=f"record {i + 1}", summary="4697 svc"),
            ),
            {"service": f"svc{i}", "image": f"C:\\Windows\\svc{i}.exe", "count": i},
        )
        for i in range(n)
    ]


def _best(step: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        out = step()
        best = min(best, time.process_time() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n = args.n
    build, findings = _best(lambda: _findings(n), args.repeat)
    pickled, _ = _best(lambda: pickle.loads(pickle.dumps(findings)), args.repeat)
    result = AnalysisResult(family="host", findings=tuple(findings))

    def report() -> Any:
        return build_report(
            [result],
            started="2011-10-14T00:00:00Z",
            finished="2011-10-14T00:01:00Z",
            engine="duckdb",
            identities=False,
        )

    built, doc = _best(report, args.repeat)
    rendered, text = _best(lambda: render_json(doc), args.repeat)
    m = machine()
    print(f"machine: {m['nproc']} CPUs, {m['cpu']}, duqhunt {m['duqhunt']}")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    print(f"findings: {n}, report.json {len(text)} bytes, sha256 {digest}")
    print(f"best of {args.repeat}, CPU microseconds per finding:")
    for name, secs in (
        ("build (Detector.finding)", build),
        ("pickle round trip", pickled),
        ("build_report", built),
        ("render_json", rendered),
    ):
        print(f"  {name:26s} {secs / n * 1e6:8.1f}")
    total = build + built + rendered
    print(f"  {'build + report + render':26s} {total / n * 1e6:8.1f}")


if __name__ == "__main__":
    main()
