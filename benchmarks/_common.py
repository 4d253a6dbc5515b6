"""What the benchmark suites share: child processes that report one JSON result, machine facts,
and results.md assembled from one fragment per suite."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "work"
RESULTS = HERE / "results.md"
SUITES = ("network", "lateral")  # what `--suite all` (`make bench`) runs
OPT_IN_SUITES = ("spark",)  # run only when asked for (slow); their fragments are kept too
MARK = "BENCH-RESULT "


# --------------------------------------------------------------------------------------------
# child processes


def measure(func: Callable[[], dict[str, Any]], profile: Path | None = None) -> None:
    """Run ``func`` in this (child) process and print its result with time, CPU and peak RSS."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if profile is not None:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        out = prof.runcall(func)
        seconds = time.perf_counter() - t0
        buf = io.StringIO()
        st = pstats.Stats(prof, stream=buf)
        st.sort_stats("cumulative").print_stats(40)
        st.sort_stats("tottime").print_stats(25)
        profile.write_text(buf.getvalue())
    else:
        out = func()
        seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    out["seconds"] = seconds
    out["user_seconds"] = after.ru_utime - before.ru_utime
    out["sys_seconds"] = after.ru_stime - before.ru_stime
    out["peak_rss_mb"] = after.ru_maxrss / 1024
    print(MARK + json.dumps(out), flush=True)


def run_child(name: str, cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` (a Python child that calls :func:`measure`) and return its result, with the
    wall time of the whole process as ``process_seconds``. Its stderr goes to work/."""
    WORK.mkdir(parents=True, exist_ok=True)
    errlog = WORK / f"stderr-{name}.txt"
    t0 = time.perf_counter()
    with open(errlog, "wb") as err:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, check=False)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(errlog.read_text(errors="replace")[-4000:])
        raise SystemExit(f"step {name} failed (exit {proc.returncode}); stderr in {errlog}")
    result: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    result["process_seconds"] = wall
    return result


def python_shown() -> str:
    py = Path(sys.executable)
    venv_py = ROOT / ".venv" / "bin" / "python"
    return ".venv/bin/python" if py.parent == venv_py.parent else str(py)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# --------------------------------------------------------------------------------------------
# machine facts


def mem_available_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        nproc = str(len(os.sched_getaffinity(0)))
    except AttributeError:
        nproc = str(os.cpu_count())

    def git(*args: str) -> str:
        try:
            res = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
            )
        except OSError:
            return ""
        return res.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no", "--", "src"):
        commit += " (src has uncommitted changes)"
    return {
        "nproc": nproc,
        "cpu": cpu,
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": metadata.version("duckdb"),
        "pyarrow": metadata.version("pyarrow"),
        "duqhunt": f"{metadata.version('duqhunt')} at {commit}",
    }


def facts(command: str, m: dict[str, str]) -> list[str]:
    """The command, date, machine and software lines every suite section starts with."""
    return [
        f"- command: `{command}`",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds').replace('+00:00', 'Z')}",
        f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, {m['os']}",
        f"- software: Python {m['python']}, duckdb {m['duckdb']}, "
        f"pyarrow {m['pyarrow']}, duqhunt {m['duqhunt']}",
    ]


# --------------------------------------------------------------------------------------------
# results.md = a short preamble + one fragment per suite


def fragment_path(results: Path, suite: str) -> Path:
    """``results.md`` -> ``results-<suite>.md`` next to it."""
    return results.with_name(f"{results.stem}-{suite}{results.suffix}")


PREAMBLE = """\
# duqhunt benchmark results

Written by `benchmarks/run.py`. Each suite rewrites its own fragment
(benchmarks/results-network.md, benchmarks/results-lateral.md, benchmarks/results-spark.md)
and this file is assembled from the fragments, so running one suite keeps the others' last
figures. To reproduce:

    make bench                                                        # network + lateral, full size
    .venv/bin/python benchmarks/run.py --suite network --rows 200000     # a quick check
    .venv/bin/python benchmarks/run.py --suite lateral --hosts 300 --days 1   # a quick check
    .venv/bin/python benchmarks/run.py --suite spark --rows 10000000     # opt-in: DuckDB vs Spark
"""


def write_results(results: Path, suite: str, fragment: str) -> str:
    """Write one suite's fragment and reassemble ``results``; return the fragment."""
    results.parent.mkdir(parents=True, exist_ok=True)
    fragment_path(results, suite).write_text(fragment.rstrip("\n") + "\n")
    parts = [PREAMBLE]
    for s in (*SUITES, *OPT_IN_SUITES):
        p = fragment_path(results, s)
        if p.exists():
            parts.append(p.read_text().rstrip("\n") + "\n")
    results.write_text("\n".join(parts))
    return fragment
