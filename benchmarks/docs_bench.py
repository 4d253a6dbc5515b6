"""Document scanning benchmark: duqhunt scan beside oletools' oleid and olevba, same files.

    .venv/bin/python benchmarks/docs_bench.py                 # the whole ../shared/data/docs
    .venv/bin/python benchmarks/docs_bench.py --repeat 1      # a quick check
    .venv/bin/python benchmarks/docs_bench.py --profile       # + cProfile of each step

Every step runs in a fresh Python process, in-process library calls (no CLI, no output
formatting), over the same list of files (duqhunt.docscan.collect of the corpus), after its
imports and after one untimed warm-up pass (file cache and lazy imports); the figure is the
median of ``--repeat`` timed passes:

    duqhunt-1   duqhunt.docscan.scan_documents(files, jobs=1): every check on, fonts included
    duqhunt-N   the same with jobs = all cores (worker processes started inside the timing)
    oleid       oletools.oleid.OleID(path).check() per file
    olevba      oletools.olevba.VBA_Parser(path, data, relaxed=True); detect_macros();
                analyze_macros() when macros are found; close() -- as olevba does per file,
                without printing

Failures: for oletools, an exception out of the calls above (olevba's FileOpenError, "not a
supported file type", is counted apart as unsupported); for duqhunt, a file whose analysis
stopped on a parser bug ("analysis failed" in not_analysed; bad input is a finding, not a
failure), unsupported files counted apart.

Writes benchmarks/results-docs.md and benchmarks/results-docs.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, WORK, machine, measure, python_shown, rel, run_child

CORPUS = ROOT.parent / "shared" / "data" / "docs"
RESULTS = Path(__file__).resolve().parent / "results-docs.md"
RESULTS_JSON = RESULTS.with_suffix(".json")
STEPS = ("duqhunt-1", "duqhunt-N", "oleid", "olevba")
ISSUE_FIGURES = {"oleid": 141.0, "olevba": 201.0}  # files/s quoted in issue #4


def _files(corpus: Path, subset: str) -> list[Path]:
    """Every file of the corpus, or (``office``) those that are not fonts or unrecognised:
    the documents all three tools handle (by duqhunt's content sniffer)."""
    sys.path.insert(0, str(ROOT / "src"))
    from duqhunt.detectors.doc.containers import sniff
    from duqhunt.docscan import collect

    files = collect([corpus])
    if subset == "office":
        files = [p for p in files if sniff(p.read_bytes(), p.name) not in ("font", "unknown")]
    return files


def _quiet() -> None:
    logging.disable(logging.CRITICAL)


def _duqhunt(files: list[Path], jobs: int) -> Callable[[], dict[str, Any]]:
    from duqhunt.docscan import scan_documents

    def run() -> dict[str, Any]:
        res = scan_documents(files, jobs=jobs)
        failed = sum(1 for n in res.not_analysed if n.reason.startswith("analysis failed"))
        verdicts = Counter(v.verdict for v in res.verdicts)
        return {
            "failed": failed,
            "unsupported": verdicts.get("unsupported", 0),
            "findings": len(res.findings),
            "verdicts": dict(sorted(verdicts.items())),
        }

    return run


def _oleid(files: list[Path]) -> Callable[[], dict[str, Any]]:
    from oletools.oleid import OleID

    def run() -> dict[str, Any]:
        failed = 0
        indicators = 0
        for p in files:
            try:
                indicators += len(OleID(filename=str(p)).check())
            except Exception:
                failed += 1
        return {"failed": failed, "unsupported": 0, "indicators": indicators}

    return run


def _olevba(files: list[Path]) -> Callable[[], dict[str, Any]]:
    from oletools import olevba

    def run() -> dict[str, Any]:
        failed = unsupported = with_macros = 0
        for p in files:
            vp = None
            try:
                data = p.read_bytes()
                vp = olevba.VBA_Parser(str(p), data=data, relaxed=True)
                if vp.detect_macros():
                    with_macros += 1
                    vp.analyze_macros()
            except olevba.FileOpenError:
                unsupported += 1
            except Exception:
                failed += 1
            finally:
                if vp is not None:
                    try:
                        vp.close()
                    except Exception:
                        failed += 1
        return {"failed": failed, "unsupported": unsupported, "with_macros": with_macros}

    return run


def _child(step: str, subset: str, corpus: Path, repeat: int, profile: Path | None) -> None:
    _quiet()
    files = _files(corpus, subset)
    size = sum(p.stat().st_size for p in files)
    cores = os.cpu_count() or 1
    if step == "duqhunt-1":
        run = _duqhunt(files, 1)
    elif step == "duqhunt-N":
        run = _duqhunt(files, cores)
    elif step == "oleid":
        run = _oleid(files)
    elif step == "olevba":
        run = _olevba(files)
    else:
        raise SystemExit(f"unknown step {step}")
    run()  # warm-up: file cache, lazy imports, compiled regexes

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # pool workers, once joined
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def timed() -> dict[str, Any]:
        walls: list[float] = []
        cpus: list[float] = []
        out: dict[str, Any] = {}
        load = os.getloadavg()[0]
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), cpu()
            out = run()
            walls.append(time.perf_counter() - t0)
            cpus.append(cpu() - c0)
        wall, cpu_s = statistics.median(walls), statistics.median(cpus)
        out.update(
            step=step,
            subset=subset,
            files=len(files),
            bytes=size,
            jobs=cores if step == "duqhunt-N" else 1,
            walls=walls,
            cpus=cpus,
            median_seconds=wall,
            median_cpu_seconds=cpu_s,
            files_per_second=len(files) / wall,
            mb_per_second=size / 1e6 / wall,
            files_per_cpu_second=len(files) / cpu_s,
            mb_per_cpu_second=size / 1e6 / cpu_s,
            load_before=load,
            load_after=os.getloadavg()[0],
        )
        return out

    measure(timed, profile)


def _software() -> str:
    from importlib import metadata

    vers = []
    for dist in ("oletools", "olefile", "fonttools"):
        try:
            vers.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            vers.append(f"{dist} missing")
    return ", ".join(vers)


WHAT = {
    "duqhunt-1": "scan_documents(jobs=1), font analysis on",
    "duqhunt-N": "scan_documents(jobs={jobs}), font analysis on",
    "oleid": "OleID(path).check()",
    "olevba": "VBA_Parser + detect_macros + analyze_macros",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="folder of documents")
    ap.add_argument("--repeat", type=int, default=5, help="timed passes per step (median)")
    ap.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset")
    ap.add_argument("--profile", action="store_true", help="cProfile each step to work/")
    ap.add_argument("--sets", default="all,office", help="all: every file; office: no fonts")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--set", default="all", help=argparse.SUPPRESS)
    ap.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.set, args.corpus, args.repeat, args.profile_to)
        return 0
    if not args.corpus.is_dir():
        print(f"corpus {args.corpus} not present: document benchmark skipped", file=sys.stderr)
        return 0
    steps = [s for s in args.steps.split(",") if s]
    results: dict[str, dict[str, Any]] = {}
    for subset in [x for x in args.sets.split(",") if x]:
        for step in steps:
            cmd = [sys.executable, __file__, "--child", step, "--set", subset]
            cmd += ["--corpus", str(args.corpus), "--repeat", str(args.repeat)]
            if args.profile:
                cmd += ["--profile-to", str(WORK / f"profile-docs-{step}-{subset}.txt")]
            print(f"docs bench: {step} on {subset} ...", file=sys.stderr, flush=True)
            results[f"{step}@{subset}"] = run_child(f"docs-{step}-{subset}", cmd)
    m = machine()
    command = " ".join([python_shown(), "benchmarks/docs_bench.py", *sys.argv[1:]])
    sizes = {r["subset"]: (r["files"], r["bytes"]) for r in results.values()}
    n, size = sizes.get("all", next(iter(sizes.values())))
    lines = [
        "## documents suite: duqhunt scan beside oletools (oleid, olevba)",
        "",
        f"- command: `{command}`",
        f"- date: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}",
        f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, {m['os']}",
        f"- software: Python {m['python']}, {_software()}, duqhunt {m['duqhunt']}",
        f"- input: {rel(args.corpus)} ({n} files, {size / 1e6:.1f} MB), the same list for "
        "every step; in-process library calls, each step in a fresh process after one "
        f"warm-up pass; median of {args.repeat} passes",
        *(
            f"- set office: the {k} files ({b / 1e6:.1f} MB) that are not fonts or "
            "unrecognised (Office, RTF, XML, SYLK/CSV, archives): what all three tools read"
            for sub, (k, b) in sizes.items()
            if sub == "office"
        ),
        "",
        "| step | set | what | wall s | files/s | MB/s | CPU s | files/CPU-s | MB/CPU-s | failed "
        "| unsupported | peak RSS MB |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results.values():
        what = WHAT[r["step"]].format(jobs=r.get("jobs", 1))
        lines.append(
            f"| {r['step']} | {r['subset']} | {what} | {r['median_seconds']:.2f} | {r['files_per_second']:,.0f} | "
            f"{r['mb_per_second']:,.2f} | {r['median_cpu_seconds']:.2f} | "
            f"{r['files_per_cpu_second']:,.0f} | {r['mb_per_cpu_second']:,.2f} | "
            f"{r['failed']} | {r['unsupported']} | {r['peak_rss_mb']:,.0f} |"
        )
    loads = [f"{r['load_before']:.1f}/{r['load_after']:.1f}" for r in results.values()]
    lines += [
        "",
        "- wall = median elapsed time; CPU = user + system time of the step's process and its "
        "workers. On a shared machine the CPU figures are the ones to compare (1-minute load "
        f"average before/after each step: {', '.join(loads)} on {m['nproc']} CPUs)",
    ]
    for subset in sizes:
        d1 = results.get(f"duqhunt-1@{subset}")
        for tool, quoted in ISSUE_FIGURES.items():
            r = results.get(f"{tool}@{subset}")
            if d1 and r:
                lines.append(
                    f"- {subset}: duqhunt-1 / {tool} = "
                    f"{d1['files_per_cpu_second'] / r['files_per_cpu_second']:.2f}x per CPU "
                    f"second, {d1['files_per_second'] / r['files_per_second']:.2f}x wall "
                    f"(issue #4 quoted {tool} at ~{quoted:.0f} files/s)"
                )
    d1 = results.get("duqhunt-1@all")
    if d1:
        lines.append(f"- duqhunt verdicts (all): {d1['verdicts']}; findings: {d1['findings']}")
    if "olevba@all" in results:
        lines.append(
            "- olevba: unsupported = FileOpenError (fonts, text and other non-Office files); "
            f"files with macros: {results['olevba@all']['with_macros']}"
        )
    lines.append(
        "- failed = an exception escaped the tool's library calls (oletools) or a parser bug "
        "stopped a file's analysis (duqhunt); bad input is not a failure"
    )
    lines.append("")
    RESULTS.write_text("\n".join(lines))
    payload = {"command": command, "machine": m, "corpus": rel(args.corpus), "results": results}
    RESULTS_JSON.write_text(json.dumps(payload, indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
