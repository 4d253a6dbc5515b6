"""EVTX reading speed: the ``evtx`` package alone against duqhunt's EVTX stage, per file, in CPU
time.

    PYTHONPATH=src .venv/bin/python benchmarks/evtx_rate.py [--label TEXT] [FILE.evtx ...]

Without files it reads every EVTX sample it finds: tests/data/host, /work/shared/data/host (or
``--shared``) and the cache of benchmarks/evtx_attack.py (benchmarks/work/evtx-attack: the
EVTX-ATTACK-SAMPLES, EVTX-to-MITRE-Attack and omerbenamram/evtx samples/ files; run that script
first to fill it). ``make bench`` runs it.

Measured in CPU time of this process (``time.process_time``: every thread, the Rust parser's
included), not wall time: the machine these run on is shared, and wall time there measures the
neighbours. Each file is read repeatedly for at least ``--seconds`` of CPU and the best pass is
kept. The package rate is ``PyEvtxParser.records_json()`` iterated to the end (it renders every
record), with its default threads and with one thread, the faster of the two counting; duqhunt's
is ``read_evtx`` as the host scan calls it (the event ids and channels the detectors read,
``WANTED``). Writes the table to ``--out`` (replacing an earlier table of the same label).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import evtx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from duqhunt.errors import InputError
from duqhunt.sources.host.eventlog import EVTX_THREADS, WANTED, read_evtx

HERE = Path(__file__).resolve().parent
ROOTS = [HERE.parent / "tests/data", HERE / "work" / "evtx-attack"]
SHARED = Path("/work/shared/data/host")
MARK = "<!-- evtx_rate table -->"


def _best(fn: Callable[[], int], seconds: float) -> tuple[int, float]:
    """Records and the best CPU time of one pass, over passes adding up to ``seconds``."""
    best = float("inf")
    n = 0
    spent = 0.0
    while spent < seconds or best == float("inf"):
        t0 = time.process_time()
        n = fn()
        dt = time.process_time() - t0
        spent += dt
        best = min(best, dt)
    return n, max(best, 1e-9)


def _raw(p: Path, threads: int) -> int:
    """Records the package yields, going on past a bad chunk as read_evtx does."""
    n = 0
    it = iter(evtx.PyEvtxParser(str(p), number_of_threads=threads).records_json())
    while True:
        try:
            next(it)
        except StopIteration:
            return n
        except (RuntimeError, OSError, ValueError):
            continue
        n += 1


def samples(shared: Path) -> list[Path]:
    found: dict[str, Path] = {}
    for root in [*ROOTS, shared]:
        if root.is_dir():
            for p in sorted(root.rglob("*.evtx")):
                if p.is_file() and p.read_bytes()[:8] == b"ElfFile\0":
                    found.setdefault(p.name, p)  # the same file in two places counts once
    return sorted(found.values(), key=lambda p: p.name.lower())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--seconds", type=float, default=0.3, help="CPU seconds per measurement")
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--label", default="")
    ap.add_argument("--out", type=Path, default=HERE / "results-evtx-rate.md")
    args = ap.parse_args()
    files = args.files or samples(args.shared)
    rows: list[tuple[str, int, str, int, float, float, float]] = []
    for p in files:
        try:
            everything = read_evtx(p, 10**7, None)
        except InputError as exc:  # a sample the parser refuses is reported, not measured
            print(f"{p}: not measured: {exc}", file=sys.stderr)
            continue
        ids = Counter(e.event_id for e in everything.events)
        top = ", ".join(f"{i}: {c}" for i, c in ids.most_common(3))
        n_def, t_def = _best(lambda p=p: _raw(p, 0), args.seconds)  # type: ignore[misc]
        n_one, t_one = _best(lambda p=p: _raw(p, 1), args.seconds)  # type: ignore[misc]
        n_dq, t_dq = _best(lambda p=p: read_evtx(p, 10**7, WANTED).records, args.seconds)  # type: ignore[misc]
        kept = len(read_evtx(p, 10**7, WANTED).events)
        r_pkg = max(n_def / t_def, n_one / t_one)
        r_dq = n_dq / t_dq
        rows.append((p.name, n_one, top, kept, r_pkg, r_dq, r_dq / r_pkg))
        print(f"{p.name[:60]:60} {n_one:6} kept {kept:5} {r_pkg:>10,.0f} {r_dq:>10,.0f} "
              f"{100 * r_dq / r_pkg:4.0f} %", flush=True)  # fmt: skip
    m = machine()
    ratios = [r[6] for r in rows]
    big = [r for r in rows if r[1] >= 500]
    low = [r for r in rows if r[6] < 0.5]
    label = args.label or "run"
    lines = [
        MARK.replace("table", f"table {label}"),
        f"## {label}",
        "",
        "- command: `PYTHONPATH=src .venv/bin/python benchmarks/evtx_rate.py"
        f" --seconds {args.seconds}`",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}; evtx "
        f"{metadata.version('evtx')}; duqhunt {m.get('duqhunt', '?')}; read_evtx with "
        f"{EVTX_THREADS} parser thread(s)",
        f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']}, shared with other jobs"
        " (rates are CPU time of the process, best pass of repeated reads, so the load of the"
        " neighbours counts less than in wall time; it still moves them by 10-20 %)",
        f"- {len(rows)} files; duqhunt's stage at least half the package's rate on"
        f" {len(rows) - len(low)}; median ratio {100 * statistics.median(ratios or [0]):.0f} %;"
        f" on the {len(big)} files of 500 records or more: lowest"
        f" {100 * min([r[6] for r in big] or [0]):.0f} %",
        "",
        "| file | records | top event ids | events decoded | evtx package records/s (CPU)"
        " | duqhunt read_evtx records/s (CPU) | ratio |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {name} | {n} | {top} | {kept} | {rp:,.0f} | {rd:,.0f} | {100 * q:.0f} % |"
            for name, n, top, kept, rp, rd, q in rows
        ),
        "",
    ]
    text = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
    start = text.find(MARK.replace("table", f"table {label}"))
    if start >= 0:  # the same label measured again: its table is replaced
        end = text.find("<!-- evtx_rate table", start + 1)
        text = text[:start] + (text[end:] if end >= 0 else "")
    args.out.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
