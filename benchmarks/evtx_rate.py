"""EVTX reading speed: the ``evtx`` package alone against duqhunt's ``read_evtx``, per file.

    PYTHONPATH=src .venv/bin/python benchmarks/evtx_rate.py [--label TEXT] [FILE.evtx ...]

Without files it reads the cached corpus of benchmarks/evtx_attack.py (run that first): a
4625-heavy Security log (an OpenSSH brute force), a Sysmon-heavy log and a large System log
(omerbenamram/evtx samples/), and the project's real Security fixture. Each file is read
repeatedly for at least ``--seconds`` and the best pass is kept, so small files are not
measured on start-up noise. The package rate is ``PyEvtxParser.records_json()`` iterated to
the end (the library renders every record); duqhunt's is ``read_evtx`` with the event ids and
channels the detectors read (``WANTED``). Appends one table to ``--out``.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import evtx

from duqhunt.sources.host.eventlog import WANTED, read_evtx

HERE = Path(__file__).resolve().parent
CACHE = HERE / "work" / "evtx-attack"
DEFAULT = [
    CACHE
    / "mdecrevoisier+EVTX-to-MITRE-Attack"
    / "TA0006-Credential Access/T1110.xxx-Brut force/ID 4776,4625-AccountRestore local bruteforce.evtx",
    CACHE / "omerbenamram+evtx/samples/sysmon.evtx",
    CACHE / "omerbenamram+evtx/samples/system.evtx",
    HERE.parent / "tests/data/host/evtxrs_security_real.evtx",
]


def _best(fn: Callable[[], int], seconds: float) -> tuple[int, float]:
    best = float("inf")
    n = 0
    spent = 0.0
    while spent < seconds or best == float("inf"):
        t0 = time.perf_counter()
        n = fn()
        dt = time.perf_counter() - t0
        spent += dt
        best = min(best, dt)
    return n, best


def _raw(p: Path) -> int:
    """Records the package yields, going on past a bad chunk as read_evtx does."""
    n = 0
    it = iter(evtx.PyEvtxParser(str(p)).records_json())
    while True:
        try:
            next(it)
        except StopIteration:
            return n
        except (RuntimeError, OSError, ValueError):
            continue
        n += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--label", default="")
    ap.add_argument("--out", type=Path, default=HERE / "results-evtx-rate.md")
    args = ap.parse_args()
    files = args.files or [p for p in DEFAULT if p.is_file()]
    rows = []
    for p in files:
        ids = Counter(e.event_id for e in read_evtx(p, 10**7, None).events)
        top = ", ".join(f"{i}: {c}" for i, c in ids.most_common(3))
        n_raw, t_raw = _best(lambda p=p: _raw(p), args.seconds)  # type: ignore[misc]
        n_dq, t_dq = _best(lambda p=p: read_evtx(p, 10**7, WANTED).records, args.seconds)  # type: ignore[misc]
        kept = len(read_evtx(p, 10**7, WANTED).events)
        r_raw, r_dq = n_raw / t_raw, n_dq / t_dq
        rows.append(
            f"| {p.name} | {n_raw} | {top} | {kept} | {r_raw:,.0f} | {r_dq:,.0f} | "
            f"{100 * r_dq / r_raw:.0f} % |"
        )
        print(rows[-1], flush=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write(
            "\n".join(
                [
                    "",
                    f"## {args.label or 'run'}",
                    "",
                    "- command: `PYTHONPATH=src .venv/bin/python benchmarks/evtx_rate.py"
                    f" --seconds {args.seconds}`" + (f" ({args.label})" if args.label else ""),
                    f"- date: {datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}; evtx "
                    f"{metadata.version('evtx')}; best pass of repeated reads",
                    "",
                    "| file | records | top event ids | events kept | evtx package records/s"
                    " | duqhunt read_evtx records/s | ratio |",
                    "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
                    *rows,
                    "",
                ]
            )
        )


if __name__ == "__main__":
    main()
