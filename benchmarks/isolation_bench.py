"""Cost of the hard per-file limits: the host readers in a worker process (duqhunt.isolation)
and documents always in capped workers (docscan), beside reading in the scanning process.

    .venv/bin/python benchmarks/isolation_bench.py              # 400 host files, 3 runs
    .venv/bin/python benchmarks/isolation_bench.py --files 100 --repeat 1

Host: a triage folder of many small artefacts of the isolated kinds (the real public .job
and EVTX samples of tests/data/host, inert PEs and a SYSTEM hive built in code), scanned
with ``HostLimits(hard_seconds_per_file=0)`` (read in this process, the cooperative budget
only) and with the default limits (one worker for the whole scan). Documents: a few small
files analysed one after the other in this process (what ``scan --jobs 1`` did) and in a
capped worker (scan_documents with jobs=1: the CPU limit and memory cap per file).

CPU seconds count this process and its children (the workers), user + system: on a shared
machine the wall time carries the other jobs' load, the CPU time much less. Runs alternate
the two ways; medians kept. Writes benchmarks/results-isolation.md and prints it.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "host"))
HOST_DATA = ROOT / "tests" / "data" / "host"
RESULTS = HERE / "results-isolation.md"


def cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    c0, w0 = cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - w0, cpu() - c0


def build_triage(root: Path, n: int) -> dict[str, int]:
    from host_builders import build_hive, system_hive_tree

    from duqhunt.simulate.host import build_inert_pe

    w = root / "Windows" / "System32"
    for sub in ("Tasks", "drivers", "winevt/Logs", "config"):
        (w / sub).mkdir(parents=True, exist_ok=True)
    job = (HOST_DATA / "wintask.job").read_bytes()
    evtx = (HOST_DATA / "md_psexec_service_7045.evtx").read_bytes()
    pe = build_inert_pe({"CompanyName": "Example"})
    counts = {"job": 0, "pe": 0, "evtx": 0, "hive": 1}
    (w / "config" / "SYSTEM").write_bytes(build_hive(system_hive_tree()))
    for i in range(n - 1):
        kind = ("job", "pe", "job", "evtx")[i % 4]
        if kind == "job":
            (w / "Tasks" / f"At{i}.job").write_bytes(job)
        elif kind == "pe":
            (w / "drivers" / f"drv{i}.sys").write_bytes(pe)
        else:
            (w / "winevt" / "Logs" / f"Log{i}.evtx").write_bytes(evtx)
        counts[kind] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--docs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from duqhunt import docscan
    from duqhunt.hostscan import HostLimits, scan_host
    from duqhunt.simulate.documents import make_docx, malformed_dexter

    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="duqhunt-iso-bench-"))
    try:
        counts = build_triage(tmp / "PC", args.files)
        docs = tmp / "docs"
        docs.mkdir()
        for i in range(args.docs):
            (docs / f"d{i}.docx").write_bytes(make_docx(malformed_dexter()))
        limits = docscan.builtin_content().limits
        doc_args = [(str(p), None, (), limits) for p in sorted(docs.iterdir())]
        inline_limits = HostLimits(hard_seconds_per_file=0)
        scan_host([tmp / "PC"], limits=inline_limits)  # imports and caches warm
        [docscan._work(*a) for a in doc_args]

        runs: dict[str, list[tuple[float, float]]] = {
            k: [] for k in ("host-inline", "host-isolated", "docs-inline", "docs-worker")
        }
        for _ in range(args.repeat):
            a = scan_host([tmp / "PC"], limits=inline_limits)
            runs["host-inline"].append(
                measure(lambda: scan_host([tmp / "PC"], limits=inline_limits))
            )
            runs["host-isolated"].append(measure(lambda: scan_host([tmp / "PC"])))
            b = scan_host([tmp / "PC"])
            assert [i.status for i in a.inputs] == [i.status for i in b.inputs]
            assert len(a.findings) == len(b.findings)
            runs["docs-inline"].append(measure(lambda: [docscan._work(*x) for x in doc_args]))
            runs["docs-worker"].append(measure(lambda: docscan.scan_documents([docs], jobs=1)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()

    med = {
        k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
        for k, v in runs.items()
    }
    n = args.files
    lines = [
        "## Isolation suite: hard per-file limits (worker processes) beside reading in-process",
        "",
        f"- command: `python benchmarks/isolation_bench.py --files {n} --docs {args.docs} "
        f"--repeat {args.repeat}`",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        f"- host input: one triage folder of {n} small artefacts ("
        + ", ".join(f"{v} {k}" for k, v in counts.items())
        + "); documents: "
        f"{args.docs} small docx lures",
        f"- load average (1, 5, 15 min) before {load0[0]:.1f} / {load0[1]:.1f} / {load0[2]:.1f}, "
        f"after {load1[0]:.1f} / {load1[1]:.1f} / {load1[2]:.1f} on {os.cpu_count()} CPUs: the "
        "machine was shared with other jobs; CPU seconds (process and workers) are the steadier "
        "figure",
        f"- {args.repeat} runs of each way, alternated; medians",
        "",
        "| what | way | wall s | CPU s | CPU ms per file |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for key, what, way, files in (
        ("host-inline", "scan_host", "in-process (hard_seconds_per_file=0)", n),
        ("host-isolated", "scan_host", "one worker, hard limits (default)", n),
        ("docs-inline", "documents", "in-process, one after the other (old --jobs 1)", args.docs),
        ("docs-worker", "documents", "one capped worker (now)", args.docs),
    ):
        w, c = med[key]
        lines.append(f"| {what} | {way} | {w:.2f} | {c:.2f} | {1000 * c / files:.1f} |")
    hi, hw = med["host-inline"][1], med["host-isolated"][1]
    di, dw = med["docs-inline"][1], med["docs-worker"][1]
    lines += [
        "",
        f"- host: the worker costs **{1000 * (hw - hi) / n:+.2f} CPU ms per file** "
        f"({100 * (hw - hi) / hi:+.0f} % of the scan's CPU time)",
        f"- documents: the capped worker costs **{dw - di:+.2f} CPU s per scan** "
        "(one process start, the results pickled back)",
        "",
    ]
    text = "\n".join(lines)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
