"""The spark suite: the same hunt on DuckDB and on Spark local mode, on the same conn.log.

    .venv/bin/python benchmarks/run.py --suite spark --rows 10000000    # about 10 minutes
    .venv/bin/python benchmarks/run.py --suite spark --rows 1000000     # a quick check
    .venv/bin/python benchmarks/run.py --suite spark --rows 100000000 --spark-timeout 2700

Opt-in (not part of ``make bench``): Spark is slow on one small machine and the point of the
suite is to measure by how much and why. The conn.log is the network suite's (benchmarks/
conngen.py, cached under benchmarks/work/conn-<N>-v1/). Four steps, each in a fresh Python
process:

    duckdb-hunt    hunt(HuntOptions(inputs=(log,), out=fresh, threads=2)): DuckDB reads the
                   TSV into Parquet, then every detector
    duckdb-detect  the same hunt again on that case: the file is already ingested
    spark-hunt     SparkEngine("local[2]") is built first (timed: JVM start and SparkSession),
                   then hunt(HuntOptions(..., engine="spark", spark_master="local[2]")), which
                   attaches to that session: Spark reads the TSV itself, writes Parquet, runs
                   every detector
    spark-detect   the same on the Spark step's case

Per step: wall time of the step (*seconds*; for Spark it includes the JVM start, shown apart
too), the hunt's phases (ingest, setup, detectors, rest) from its progress callback, the
detectors' own seconds (doc.stats ``seconds_*``; DQ-NET-002 is the beacon scoring), the number
of engine queries and the time spent in them, peak memory (``ru_maxrss`` of the Python
process; for Spark also the JVM's ``VmHWM`` from /proc, read just before the session stops,
and its CPU seconds) and the size of the conn Parquet the engine wrote. The Spark steps also
record shuffle bytes (from Spark's status store, per detector) and the latency of a trivial
query (one Spark job round trip). The findings (ids and counts per detector) of the two
engines are compared.

Results of every row count are kept in benchmarks/results-spark.json (a later run of some
steps, ``--spark-steps spark-hunt,spark-detect``, replaces only those), so the fragment
(benchmarks/results-spark.md) shows all measured sizes and fits per-row costs from the two
largest. ``--spark-timeout S`` caps the wall time of the two Spark steps together; a step cut
off by it is reported with what it had finished (the child writes its progress as it goes).
``--spark-conf KEY=VALUE`` runs are kept apart (keyed by rows and settings) and left out of
the fits. The machine has two cores and other people's tests may share them: each step waits
until the rest of the machine has been idle for 15 s, and records the CPU seconds others used
while it ran (those include the step's own imports, Spark's launcher and its Python workers,
about 12-15 s for a Spark step; more means it shared the cores, and the table marks it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HERE, MARK, WORK, facts, machine, rel

STEPS = ("duckdb-hunt", "duckdb-detect", "spark-hunt", "spark-detect")
MASTER = "local[2]"
THREADS = 2
DEFAULT_TIMEOUT_S = 2700.0  # 45 minutes for the two Spark steps together
STORE = HERE / "results-spark.json"
BEACON = "DQ-NET-002"
# Spark keeps this many jobs and stages in its status store (defaults 1000): enough to count
# every job and stage of one hunt
STATUS_CONF = {"spark.ui.retainedJobs": "100000", "spark.ui.retainedStages": "100000"}


# --------------------------------------------------------------------------------------------
# in the child


class _Recorder:
    """What a child step learns as it goes, written to ``path`` after every event so that a
    step cut off by the timeout still leaves its partial figures."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.t0 = time.perf_counter()
        self.data: dict[str, Any] = {"marks": {}, "detectors": {}}
        self.queries: list[float] = []
        self.jvm: Any = None
        self.spark: Any = None

    def mark(self, name: str) -> None:
        self.data["marks"][name] = time.perf_counter() - self.t0
        self.flush()

    def flush(self) -> None:
        self.data["elapsed"] = time.perf_counter() - self.t0
        self.data["queries"] = len(self.queries)
        self.data["query_seconds"] = sum(self.queries)
        self.data["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if self.jvm is not None:
            self.data.update(_jvm_figures(self.jvm))
        if self.path is not None:
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self.data))
            os.replace(tmp, self.path)


def _find_java() -> Any:
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            if child.name() == "java" or child.exe().endswith("/java"):
                return child
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def _jvm_figures(proc: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out["jvm_peak_rss_mb"] = int(line.split()[1]) / 1024
            elif line.startswith("VmRSS:"):
                out["jvm_rss_mb"] = int(line.split()[1]) / 1024
        cpu = proc.cpu_times()
        out["jvm_cpu_seconds"] = cpu.user + cpu.system
    except (OSError, ValueError):
        pass
    except Exception:  # psutil.NoSuchProcess: the JVM is gone
        pass
    return out


def _group(rec: _Recorder, name: str) -> None:
    """Tag the Spark jobs that follow with ``name`` (a detector id or a phase)."""
    if rec.spark is not None:
        rec.spark.sparkContext.setJobGroup(name, name)


def _spark_breakdown(spark: Any) -> dict[str, dict[str, int]]:
    """Jobs, stages, tasks and shuffle bytes per job group, from Spark's status store (which
    is kept without the UI); read once at the end of the step."""
    store = spark.sparkContext._jsc.sc().statusStore()
    group_of: dict[int, str] = {}
    jobs = store.jobsList(None)
    out: dict[str, dict[str, int]] = {}
    keys = ("jobs", "stages", "tasks", "shuffle_write_bytes", "shuffle_read_bytes")
    for i in range(jobs.size()):
        job = jobs.apply(i)
        grp = job.jobGroup()
        name = str(grp.get()) if grp.isDefined() else "other"
        out.setdefault(name, dict.fromkeys((*keys, "disk_spill_bytes"), 0))["jobs"] += 1
        ids = job.stageIds()
        for j in range(ids.size()):
            group_of[int(ids.apply(j))] = name
    gw = spark.sparkContext._gateway
    empty = gw.jvm.java.util.ArrayList()
    # stageList(statuses, details, withSummaries, unsortedQuantiles, taskStatus)
    stages = store.stageList(None, False, False, gw.new_array(gw.jvm.double, 0), empty)
    for i in range(stages.size()):
        st = stages.apply(i)
        name = group_of.get(int(st.stageId()), "other")
        agg = out.setdefault(name, dict.fromkeys((*keys, "disk_spill_bytes"), 0))
        agg["stages"] += 1
        agg["tasks"] += int(st.numTasks())
        agg["shuffle_write_bytes"] += int(st.shuffleWriteBytes())
        agg["shuffle_read_bytes"] += int(st.shuffleReadBytes())
        agg["disk_spill_bytes"] += int(st.diskBytesSpilled())
    return out


def _instrument(rec: _Recorder, spark: bool) -> None:
    """Count engine queries; time each detector and (Spark) tag its jobs with its id."""
    from duqhunt.detectors import registry

    if spark:
        from duqhunt.engines.spark import SparkEngine as Eng
    else:
        from duqhunt.engines.duckdb import DuckDBEngine as Eng  # type: ignore[assignment]

    query = Eng.query

    def timed_query(self: Any, sql: str, params: Any = None) -> Any:
        t = time.perf_counter()
        try:
            return query(self, sql, params)
        finally:
            rec.queries.append(time.perf_counter() - t)

    Eng.query = timed_query  # type: ignore[method-assign]

    for cls in registry.NETWORK_DETECTORS:
        run = cls.run

        def timed_run(self: Any, ctx: Any, _run: Any = run, _id: str = cls.id) -> Any:
            _group(rec, _id)
            t = time.perf_counter()
            try:
                return _run(self, ctx)
            finally:
                rec.data["detectors"][_id] = time.perf_counter() - t
                _group(rec, "setup-and-rest")
                rec.flush()

        cls.run = timed_run  # type: ignore[method-assign]


def _conn_parquet(scratch: Path) -> dict[str, Any]:
    files = sorted((scratch / "case.telemetry" / "log=conn").rglob("*.parquet"))
    return {
        "parquet_files": len(files),
        "parquet_bytes": sum(f.stat().st_size for f in files),
        "parquet_days": len({f.parent.name for f in files}),
    }


def _summary(doc: Any) -> dict[str, Any]:
    stats = dict(doc.stats)
    by_det: dict[str, int] = {}
    for f in doc.findings:
        by_det[f.detector] = by_det.get(f.detector, 0) + 1
    return {
        "rows": int(stats.get("rows_conn", 0)),
        "findings": len(doc.findings),
        "by_detector": dict(sorted(by_det.items())),
        "finding_ids": sorted(f.id for f in doc.findings),
        "beacons_scored": stats.get("beacons_scored"),
        "inputs": sorted({i.status for i in doc.inputs}),
        "warnings": list(doc.warnings)[:5],
        "stats_seconds": {
            k[len("seconds_") :]: v for k, v in stats.items() if k.startswith("seconds_")
        },
    }


def _latency(engine: Any, n: int = 10) -> float:
    """Median seconds of a trivial query on a small registered table (one round trip)."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        engine.query("SELECT COUNT(*) AS n FROM ip_class")
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def child(step: str, log: Path, scratch: Path, progress_to: Path | None, conf: list[str]) -> None:
    import importlib

    spark = step.startswith("spark")
    # import what the step needs before the clock starts, as a running program would have it
    for mod in ("duqhunt.hunt", "duqhunt.store", "psutil"):
        importlib.import_module(mod)
    if spark:
        importlib.import_module("duqhunt.engines.spark")
        # the hunt's own engine must not stop the session: the JVM is measured afterwards
        os.environ["DUQHUNT_SPARK_KEEP_SESSION"] = "1"
    from duqhunt.hunt import HuntOptions, hunt

    before = resource.getrusage(resource.RUSAGE_SELF)
    rec = _Recorder(progress_to)
    _instrument(rec, spark)
    own: Any = None
    if spark:
        from duqhunt.engines.spark import SparkEngine

        extra = dict(STATUS_CONF)
        extra.update(kv.split("=", 1) for kv in conf)
        t = time.perf_counter()
        own = SparkEngine(MASTER, conf=extra)
        rec.data["jvm_start_seconds"] = time.perf_counter() - t
        rec.spark = own.spark
        rec.jvm = _find_java()
        rec.data["spark_conf"] = {
            k: own.spark.conf.get(k, None)
            for k in ("spark.driver.memory", "spark.sql.shuffle.partitions")
        }
        rec.mark("session")
        _group(rec, "ingest")

    def progress(phase: str, done: int, total: int) -> None:
        if done == 0 and f"{phase}_start" not in rec.data["marks"]:
            rec.mark(f"{phase}_start")
        if done == total:
            rec.mark(f"{phase}_end")
            _group(rec, "setup-and-rest")

    case = scratch / "case.duckdb"
    detect_only = step.endswith("detect")
    if detect_only and not case.exists():
        raise SystemExit(f"{case} missing: run the hunt step first")
    options = HuntOptions(
        inputs=(log,),
        out=scratch,
        case=case if detect_only else None,
        threads=THREADS,
        engine="spark" if spark else "duckdb",
        spark_master=MASTER if spark else None,
    )
    doc = hunt(options, progress=progress)
    rec.mark("hunt_end")
    seconds = time.perf_counter() - rec.t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    out = dict(rec.data)
    out.update(_summary(doc))
    out.update(_conn_parquet(scratch))
    out["seconds"] = seconds
    out["user_seconds"] = after.ru_utime - before.ru_utime
    out["sys_seconds"] = after.ru_stime - before.ru_stime
    out["queries"] = len(rec.queries)
    out["query_seconds"] = sum(rec.queries)
    if spark:
        out["shuffle"] = _spark_breakdown(own.spark)
        if rec.jvm is not None:
            out.update(_jvm_figures(rec.jvm))  # just before the session stops
        out["trivial_query_seconds"] = _latency(_SessionEngine(own))
        own.spark.stop()
    else:
        from duqhunt.engines.duckdb import DuckDBEngine

        eng = DuckDBEngine(threads=THREADS)
        import pyarrow as pa

        eng.register_arrow("ip_class", pa.table({"ip": ["10.0.0.1"], "internal": [True]}))
        out["trivial_query_seconds"] = _latency(eng)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(MARK + json.dumps(out), flush=True)


class _SessionEngine:
    """The child's own SparkEngine, whose session still has the hunt's temp views."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def query(self, sql: str) -> Any:
        return self.engine.spark.sql(sql).toArrow()


def child_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--step", choices=STEPS, required=True)
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("--scratch", type=Path, required=True)
    ap.add_argument("--progress-to", type=Path)
    ap.add_argument("--conf", action="append", default=[])
    a = ap.parse_args(argv)
    child(a.step, a.log, a.scratch, a.progress_to, a.conf)
    return 0


# --------------------------------------------------------------------------------------------
# in the parent


class _DiskWatch:
    """Samples the free space of the work disk every 2 s while a step runs: the most it took
    (its Parquet, DuckDB's temp files, Spark's shuffle and spill files under /tmp, which is on
    the same disk here) and the least that was left."""

    def __init__(self) -> None:
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.start_free = self.min_free = shutil.disk_usage(WORK).free

    def _run(self) -> None:
        while not self._stop.wait(2.0):
            self.min_free = min(self.min_free, shutil.disk_usage(WORK).free)

    def __enter__(self) -> _DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, float]:
        return {
            "disk_free_before_gb": self.start_free / 1e9,
            "disk_peak_used_gb": (self.start_free - self.min_free) / 1e9,
            "disk_min_free_gb": self.min_free / 1e9,
        }


def _error_line(text: str) -> str | None:
    """The most telling error line of a child's stderr (Spark's own, else Python's last)."""
    found = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("at ") or not line:
            continue
        if "OutOfMemoryError" in line or "SparkException" in line or "Error:" in line:
            found = found or line
    last = [ln for ln in text.splitlines() if ln and not ln.startswith((" ", "\t"))]
    return (found or (last[-1] if last else ""))[:300] or None


def _done(r: dict[str, Any] | None) -> bool:
    """A step that finished (not cut off, not failed, not skipped)."""
    return bool(r) and not (r or {}).get("timed_out") and not (r or {}).get("failed")


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy (all processes), from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    # user nice system idle iowait irq softirq steal ...
    vals = [int(x) for x in first[1:9]]
    busy = vals[0] + vals[1] + vals[2] + vals[5] + vals[6] + vals[7]
    return busy / os.sysconf("SC_CLK_TCK")


def _wait_quiet(max_wait_s: float = 1800.0, quiet_cores: float = 0.25) -> float:
    """Wait until the rest of the machine has been idle for 15 s (other people's tests share
    the cores); return the seconds waited. Gives up after ``max_wait_s`` and runs anyway (the
    step's *others' CPU s* then shows it)."""
    waited = 0.0
    quiet = 0
    said = False
    while quiet < 3 and waited < max_wait_s:
        b0 = _busy_seconds()
        time.sleep(5.0)
        b1 = _busy_seconds()
        waited += 5.0
        if b0 is None or b1 is None:
            return waited
        busy = (b1 - b0) / 5.0
        if busy < quiet_cores:
            quiet += 1
            continue
        quiet = 0
        if not said:
            print(f"(machine busy: {busy:.1f} cores in use; waiting)", end=" ", flush=True)
            said = True
    return waited


def _run_step(
    step: str, log: Path, scratch: Path, conf: list[str], timeout: float | None
) -> dict[str, Any]:
    """One step in a fresh process (its own process group, so a timeout also ends the JVM it
    started); the result, or the partial progress with ``timed_out`` set."""
    WORK.mkdir(parents=True, exist_ok=True)
    progress = WORK / f"progress-spark-suite-{step}.json"
    progress.unlink(missing_ok=True)
    errlog = WORK / f"stderr-spark-suite-{step}.txt"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--step",
        step,
        "--log",
        str(log),
        "--scratch",
        str(scratch),
        "--progress-to",
        str(progress),
    ]
    for kv in conf:
        cmd += ["--conf", kv]
    load = os.getloadavg()[0]
    busy0 = _busy_seconds()
    disk = _DiskWatch()
    t0 = time.perf_counter()
    with disk, open(errlog, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            wall = time.perf_counter() - t0
            partial: dict[str, Any] = (
                json.loads(progress.read_text()) if progress.exists() else {"marks": {}}
            )
            partial.update(timed_out=True, process_seconds=wall, seconds=partial.get("elapsed"))
            partial.update(disk.figures())
            return partial
    wall = time.perf_counter() - t0
    lines = [ln for ln in stdout.decode().splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        # a failed step is a result too (Spark running out of execution memory is one):
        # keep its partial progress and the error
        text = errlog.read_text(errors="replace")
        sys.stderr.write(text[-2000:])
        failed: dict[str, Any] = (
            json.loads(progress.read_text()) if progress.exists() else {"marks": {}}
        )
        failed.update(
            timed_out=False,
            failed=_error_line(text) or f"exit {proc.returncode}",
            process_seconds=wall,
            seconds=failed.get("elapsed"),
            stderr=rel(errlog),
        )
        failed.update(disk.figures())
        return failed
    result: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    result["process_seconds"] = wall
    result["timed_out"] = False
    result.update(disk.figures())
    # a detector that failed (DuckDB out of temp space, say) leaves a warning, not an exit code
    bad = [w for w in result.get("warnings", []) if w.startswith("detector ")]
    if bad:
        result["failed"] = bad[0][:300]
    result["load_before"] = load
    busy1 = _busy_seconds()
    own = _cpu(result)
    if busy0 is not None and busy1 is not None and own is not None:
        # CPU the rest of the machine used meanwhile (import time of the child included)
        result["others_cpu_seconds"] = max(0.0, busy1 - busy0 - own)
    return result


def _load_store(path: Path) -> dict[str, Any]:
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    return {"runs": {}}


def run_suite(
    rows: int,
    command: str,
    *,
    steps: list[str],
    conf: list[str],
    timeout: float | None,
    store: Path = STORE,
) -> str:
    """Run the suite for ``rows`` and return the fragment for every size measured so far."""
    import conngen

    if not steps:  # --spark-steps none: rewrite the fragment from the stored results
        return report(_load_store(store))
    WORK.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def progress(done: int) -> None:
        sys.stderr.write(f"\rgenerating conn.log: {done:,}/{rows:,} rows")
        sys.stderr.flush()

    log, made = conngen.cached_log(WORK, rows, progress)
    if made:
        sys.stderr.write("\n")
    print(
        f"input: {log} ({rows:,} rows, {log.stat().st_size / 1e6:,.0f} MB)"
        + (f", generated in {time.perf_counter() - t0:.1f} s" if made else ", cached"),
        flush=True,
    )
    data = _load_store(store)
    key = str(rows) + ("|" + ",".join(sorted(conf)) if conf else "")
    entry: dict[str, Any] = data["runs"].get(key, {"steps": {}})
    m = machine()
    m["pyspark"] = _version("pyspark")
    m["java"] = _java_version()

    def save() -> None:
        """Write the store after every step, so an interrupted run keeps what it measured."""
        entry.update(
            command=command,
            date=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            machine=m,
            input={
                "path": rel(log),
                "rows": rows,
                "bytes": log.stat().st_size,
                "planted_pairs": conngen.plan_for(rows).planted_pairs,
            },
            conf=conf,
            timeout=timeout,
        )
        data["runs"][key] = entry
        tmp = store.with_name(store.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, store)

    spark_left = timeout
    for step in steps:
        engine = step.split("-")[0]
        scratch = WORK / "runs" / f"spark-suite-{engine}-{rows}"
        if step.endswith("hunt"):
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
        limit = spark_left if engine == "spark" else None
        if limit is not None and limit <= 0:
            print(f"{step}: skipped, the Spark time cap is used up", flush=True)
            entry["steps"][step] = {"timed_out": True, "skipped": True, "marks": {}}
            continue
        before = entry["steps"].get(f"{engine}-hunt")
        if step.endswith("detect") and f"{engine}-hunt" in steps and not _done(before):
            print(f"{step}: skipped, the hunt step did not finish", flush=True)
            entry["steps"][step] = {"skipped": True, "failed": "no case: hunt step did not finish"}
            continue
        print(f"{step} ...", end=" ", flush=True)
        waited = _wait_quiet()
        r = _run_step(step, log, scratch, conf, limit)
        r["waited_for_idle_seconds"] = waited
        r["command"] = command
        r["date"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        ids = r.pop("finding_ids", None)
        if ids is not None:  # the store keeps a digest: equal digests, equal id lists
            r["finding_ids_sha256"] = hashlib.sha256("\n".join(ids).encode()).hexdigest()
        if engine == "spark" and spark_left is not None:
            spark_left -= r["process_seconds"]
        entry["steps"][step] = r
        save()
        if r.get("timed_out") or r.get("failed"):
            why = f"failed ({r['failed']})" if r.get("failed") else "cut off"
            print(
                f"{why} after {r['process_seconds']:.0f} s (done: {sorted(r.get('detectors', {}))})",
                flush=True,
            )
        else:
            print(
                f"{r['seconds']:.1f} s, {BEACON} {r['detectors'].get(BEACON, 0):.1f} s, peak "
                f"RSS {r['peak_rss_mb']:,.0f} MB"
                + (
                    f", JVM start {r['jvm_start_seconds']:.1f} s, JVM peak "
                    f"{r.get('jvm_peak_rss_mb', 0):,.0f} MB"
                    if engine == "spark"
                    else ""
                ),
                flush=True,
            )
    save()
    return report(data)


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _java_version() -> str:
    try:
        res = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    first = (res.stderr or res.stdout).splitlines()
    return first[0].strip() if first else "unknown"


# --------------------------------------------------------------------------------------------
# the report


def _rows(key: str) -> int:
    return int(key.split("|", 1)[0])


def _order(key: str) -> tuple[int, str]:
    return _rows(key), key


def _short_conf(conf: str) -> str:
    """``spark.driver.memory=8g,spark.sql...initialPartitionNum=64`` -> readable."""
    names = {
        "spark.driver.memory": "driver memory",
        "spark.sql.adaptive.coalescePartitions.initialPartitionNum": "initial partitions",
        "spark.sql.shuffle.partitions": "shuffle partitions",
    }
    parts = []
    for kv in conf.split(","):
        k, _, v = kv.partition("=")
        parts.append(f"{names.get(k, k)} {v}")
    return ", ".join(parts)


def _label(key: str, short: bool = False) -> str:
    rows, _, conf = key.partition("|")
    n = f"{int(rows) / 1e6:g}M" if short else f"{int(rows):,}"
    return f"{n} ({_short_conf(conf)})" if conf else n


def _base(runs: dict[str, Any]) -> dict[str, Any]:
    """The runs with duqhunt's own Spark settings (no --spark-conf): the series fits use."""
    return {k: v for k, v in runs.items() if "|" not in k}


def _phases(r: dict[str, Any]) -> dict[str, float | None]:
    """ingest / setup / detectors / rest seconds from the hunt's progress marks."""
    mk = r.get("marks", {})

    def span(a: str, b: str) -> float | None:
        return mk[b] - mk[a] if a in mk and b in mk else None

    start = "session" if "session" in mk else None
    ingest = span("ingest_start", "ingest_end")
    if start and ingest is not None:
        ingest = mk["ingest_end"] - mk[start]
    elif ingest is not None and "ingest_start" in mk:
        ingest = mk["ingest_end"]  # from the step's start (no session to subtract)
    return {
        "ingest": ingest,
        "setup": span("ingest_end", "detect_start"),
        "detectors": span("detect_start", "detect_end"),
        "rest": span("detect_end", "hunt_end"),
    }


def _f(x: Any, fmt: str = "{:,.1f}") -> str:
    return "" if x is None else fmt.format(x)


def _conf_of(key: str) -> str:
    return key.partition("|")[2]


def _spark_series(runs: dict[str, Any]) -> str:
    """The Spark settings (``--spark-conf``, "" for duqhunt's own) whose finished whole-hunt
    runs reach the largest row count with at least two sizes: the series Spark's fit uses."""
    sizes: dict[str, list[int]] = {}
    for key, entry in runs.items():
        if _done(entry["steps"].get("spark-hunt")):
            sizes.setdefault(_conf_of(key), []).append(_rows(key))
    ok = {c: max(v) for c, v in sizes.items() if len(v) >= 2}
    if not ok:
        return ""
    return max(ok, key=lambda c: (ok[c], c == ""))


def _fit(
    runs: dict[str, Any], steps: str | tuple[str, ...], value: Any, conf: str = ""
) -> tuple[float, float, int, int] | None:
    """(fixed seconds, seconds per row, n1, n2) from the two largest sizes with a value, among
    the runs with Spark settings ``conf``; per size the first of ``steps`` that finished."""
    order = (steps,) if isinstance(steps, str) else steps
    pts = []
    for key, entry in runs.items():
        if _conf_of(key) != conf:
            continue
        for step in order:
            r = entry["steps"].get(step)
            if _done(r):
                assert r is not None
                v = value(r)
                if v is not None:
                    pts.append((_rows(key), float(v)))
                    break
    pts.sort()
    if len(pts) < 2:
        return None
    (n1, t1), (n2, t2) = pts[-2], pts[-1]
    slope = (t2 - t1) / (n2 - n1)
    return t1 - slope * n1, slope, n1, n2


def _wall(r: dict[str, Any]) -> float | None:
    s = r.get("seconds")
    return float(s) if s is not None else None


def _beacon(r: dict[str, Any]) -> float | None:
    v = r.get("detectors", {}).get(BEACON)
    return float(v) if v is not None else None


def _det_total(r: dict[str, Any]) -> float | None:
    d = r.get("detectors", {})
    return float(sum(d.values())) if d else None


def _cpu(r: dict[str, Any]) -> float | None:
    if "jvm_cpu_seconds" in r:
        return (
            float(r["jvm_cpu_seconds"])
            + float(r.get("user_seconds", 0.0))
            + float(r.get("sys_seconds", 0.0))
        )
    if "user_seconds" in r:
        return float(r["user_seconds"]) + float(r["sys_seconds"])
    return None


def _shared(r: dict[str, Any], entry: dict[str, Any]) -> bool:
    """True when other processes used more than 10% of the machine during the step."""
    others = r.get("others_cpu_seconds")
    ncpu = int(entry.get("machine", {}).get("nproc", "2"))
    # a Spark step's own launcher, imports and Python workers count as others (~12-15 s)
    limit = max(0.1 * float(r.get("process_seconds", 0)) * ncpu, 20.0)
    return others is not None and others > limit


def _table(runs: dict[str, Any]) -> list[str]:
    out = [
        "| rows | engine | step | seconds | JVM start s | ingest s | setup s | detectors s "
        f"| {BEACON} s | queries | s in queries | Python peak MB | JVM peak MB | CPU s "
        "| conn Parquet MB | disk peak GB | findings | others' CPU s |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in sorted(runs, key=_order):
        entry = runs[key]
        for step in STEPS:
            r = entry["steps"].get(step)
            if r is None:
                continue
            eng, what = step.split("-")
            ph = _phases(r)
            secs = _f(_wall(r))
            if r.get("skipped"):
                secs = "skipped"
            elif r.get("failed"):
                secs = f"failed after {r.get('process_seconds', 0):,.0f}"
            elif r.get("timed_out"):
                secs = f"> {r.get('process_seconds', 0):,.0f} (cut off)"
            elif _shared(r, entry):
                secs += " †"
            ingest = ph["ingest"] if what == "hunt" else None
            out.append(
                f"| {_label(key)} | {eng} | {what} | {secs} | {_f(r.get('jvm_start_seconds'))} | "
                f"{_f(ingest)} | {_f(ph['setup'])} | {_f(ph['detectors'])} | "
                f"{_f(_beacon(r))} | {_f(r.get('queries'), '{:,}')} | "
                f"{_f(r.get('query_seconds'))} | {_f(r.get('peak_rss_mb'), '{:,.0f}')} | "
                f"{_f(r.get('jvm_peak_rss_mb'), '{:,.0f}')} | {_f(_cpu(r), '{:,.0f}')} | "
                f"{_f(r['parquet_bytes'] / 1e6 if 'parquet_bytes' in r else None, '{:,.0f}')} | "
                f"{_f(r.get('disk_peak_used_gb'), '{:,.1f}')} | "
                f"{_f(r.get('findings'), '{:,}')} | "
                f"{_f(r.get('others_cpu_seconds'), '{:,.0f}')} |"
            )
    return out


def _det_seconds(r: dict[str, Any]) -> dict[str, float]:
    """doc.stats seconds_* of a finished step; the child's own timing of a cut-off one."""
    out: dict[str, float] = r.get("stats_seconds") or r.get("detectors", {})
    return out


def _detector_table(runs: dict[str, Any]) -> list[str]:
    keys = sorted(runs, key=_order)
    cols = [(k, s) for k in keys for s in STEPS if s.endswith("detect") and s in runs[k]["steps"]]
    if not cols:
        return []
    names: set[str] = set()
    for k, s in cols:
        names |= set(runs[k]["steps"][s].get("detectors", {}))
    head = " | ".join(f"{s.split('-')[0]} {_label(k, True)}" for k, s in cols)
    out = [f"| detector | {head} |", "| --- |" + " ---: |" * len(cols)]
    for name in sorted(names):
        vals = " | ".join(
            _f(_det_seconds(runs[k]["steps"][s]).get(name), "{:,.2f}") for k, s in cols
        )
        out.append(f"| {name} | {vals} |")
    return out


def _parity(entry: dict[str, Any], duck: dict[str, Any] | None = None) -> list[str]:
    """DuckDB's findings against Spark's; ``duck`` is the entry holding the DuckDB steps
    (the same one, or the default-settings run of the same size for a --spark-conf run)."""
    lines = []
    for what in ("hunt", "detect"):
        d = (duck or entry)["steps"].get(f"duckdb-{what}")
        s = entry["steps"].get(f"spark-{what}")
        if not _done(d) or not _done(s):
            continue
        same_ids = d.get("finding_ids_sha256") == s.get("finding_ids_sha256")
        same_counts = d.get("by_detector") == s.get("by_detector")
        same_scored = d.get("beacons_scored") == s.get("beacons_scored")
        counts = ", ".join(f"{k} {v}" for k, v in d.get("by_detector", {}).items()) or "none"
        if same_ids and same_counts and same_scored:
            lines.append(
                f"- {what}: **same findings on both engines**: {d['findings']:,} findings with "
                f"identical ids ({counts}), {d.get('beacons_scored')} beacon pairs scored by both"
            )
        else:
            lines.append(
                f"- {what}: **findings differ**: DuckDB {d.get('by_detector')} "
                f"({d.get('beacons_scored')} pairs scored), Spark {s.get('by_detector')} "
                f"({s.get('beacons_scored')} scored); same ids: {same_ids}"
            )
    return lines


def _shuffle_total(r: dict[str, Any], key: str, skip: tuple[str, ...] = ("ingest",)) -> int:
    return sum(int(v.get(key, 0)) for g, v in r.get("shuffle", {}).items() if g not in skip)


def _shuffle_lines(runs: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(runs, key=_order):
        st = runs[key]["steps"]
        r = st.get("spark-detect")
        if not r or not r.get("shuffle"):
            continue
        n = _rows(key)
        total_w = _shuffle_total(r, "shuffle_write_bytes")
        bw = int(r["shuffle"].get(BEACON, {}).get("shuffle_write_bytes", 0))
        spill = _shuffle_total(r, "disk_spill_bytes")
        jobs = _shuffle_total(r, "jobs")
        stages = _shuffle_total(r, "stages")
        tasks = _shuffle_total(r, "tasks")
        pq_bytes = st.get("spark-hunt", {}).get("parquet_bytes")
        duck_pq = st.get("duckdb-hunt", {}).get("parquet_bytes")
        ing = st.get("spark-hunt", {}).get("shuffle", {}).get("ingest", {})
        out.append(
            f"- {_label(key)} rows, Spark detect step: {jobs:,} jobs, {stages:,} stages, {tasks:,} "
            f"tasks for {r.get('queries', 0)} queries; shuffle written {total_w / 1e6:,.0f} MB "
            f"({total_w / n:.1f} bytes/row), of which {BEACON} {bw / 1e6:,.0f} MB "
            f"({bw / n:.1f} bytes/row); spilled to disk {spill / 1e6:,.0f} MB"
            + (
                f"; Spark ingest: {ing.get('jobs', 0)} jobs, {ing.get('tasks', 0)} tasks"
                if ing
                else ""
            )
            + (f"; conn Parquet written by Spark {pq_bytes / n:.1f} bytes/row" if pq_bytes else "")
            + (f", by DuckDB {duck_pq / n:.1f} bytes/row" if duck_pq else "")
            + f"; TSV {runs[key]['input']['bytes'] / n:.0f} bytes/row"
        )
    return out


def _projection(runs: dict[str, Any]) -> list[str]:
    """Per-row costs from the two largest sizes, the crossover and the 1B cluster estimate."""
    lines: list[str] = []
    sc = _spark_series(runs)
    sp = f"spark ({_short_conf(sc)})" if sc else "spark"
    fits = {
        ("duckdb", "whole hunt"): _fit(runs, "duckdb-hunt", _wall),
        (sp, "whole hunt"): _fit(runs, "spark-hunt", _wall, sc),
        ("duckdb", "detectors only"): _fit(runs, "duckdb-detect", _wall),
        (sp, "detectors only"): _fit(runs, "spark-detect", _wall, sc),
        ("duckdb", f"{BEACON} (detect step, else hunt)"): _fit(
            runs, ("duckdb-detect", "duckdb-hunt"), _beacon
        ),
        (sp, f"{BEACON} (detect step, else hunt)"): _fit(
            runs, ("spark-detect", "spark-hunt"), _beacon, sc
        ),
        ("duckdb", "CPU s, whole hunt"): _fit(runs, "duckdb-hunt", _cpu),
        (sp, "CPU s, whole hunt"): _fit(runs, "spark-hunt", _cpu, sc),
    }
    if not any(fits.values()):
        return [
            "- per-row costs need two row counts with complete runs (e.g. 10M and 100M); "
            "only one so far"
        ]
    lines += [
        "| engine | measure | fixed s (intercept) | µs per row (slope) | rows per s | fit from |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for (eng, what), fit in fits.items():
        if fit is None:
            continue
        fixed, slope, n1, n2 = fit
        rate = f"{1 / slope:,.0f}" if slope > 0 else ""
        lines.append(
            f"| {eng} | {what} | {fixed:,.1f} | {slope * 1e6:.3f} | {rate} | "
            f"{n1 / 1e6:g}M, {n2 / 1e6:g}M |"
        )
    lines.append("")
    dh, sh = fits[("duckdb", "whole hunt")], fits[(sp, "whole hunt")]
    if dh and sh:
        (df, ds, *_), (sf, ss, *_) = dh, sh
        if ss >= ds:
            lines.append(
                f"- one machine, whole hunt: Spark's slope ({ss * 1e6:.2f} µs/row) is "
                f"{ss / ds:.1f}x DuckDB's ({ds * 1e6:.2f} µs/row) and its intercept "
                f"{sf:,.0f} s against {df:,.0f} s, so the lines never cross: **on this machine "
                "DuckDB is faster at every size**; the gap grows with the rows "
                f"({(ss - ds) * 1e9 / 3600:,.1f} hours more per billion rows)"
            )
        else:
            cross = (sf - df) / (ds - ss)
            lines.append(
                f"- one machine, whole hunt: the lines cross at about {cross:,.0f} rows "
                f"(Spark {ss * 1e6:.2f} µs/row + {sf:,.0f} s, DuckDB {ds * 1e6:.2f} µs/row + "
                f"{df:,.0f} s)"
            )
    cpu = fits[(sp, "CPU s, whole hunt")]
    if dh and sh and cpu:
        lines += _cluster(runs, dh, sh, cpu, sc)
    return lines


def _cluster(
    runs: dict[str, Any],
    dh: tuple[float, float, int, int],
    sh: tuple[float, float, int, int],
    cpu: tuple[float, float, int, int],
    conf: str,
) -> list[str]:
    n = 1_000_000_000
    cores = 4  # per executor, assumed
    bandwidth = 1.25e9  # bytes/s per executor, 10 Gbit/s, assumed
    df, ds, *_ = dh
    sf = sh[0]
    _, cpu_row, *_ = cpu
    series = [k for k in runs if _conf_of(k) == conf and _done(runs[k]["steps"].get("spark-hunt"))]
    big = max(series, key=_rows)
    nbig = _rows(big)
    # the shuffle of the detectors: from the detect step, else from the hunt (its ingest
    # group left out); the largest size that has it
    shuffle_row = 0.0
    for k in sorted(series, key=_rows, reverse=True):
        st = runs[k]["steps"]
        r = st.get("spark-detect") if _done(st.get("spark-detect")) else st.get("spark-hunt")
        if r and r.get("shuffle"):
            shuffle_row = _shuffle_total(r, "shuffle_write_bytes") / _rows(k)
            break
    jvm = float(runs[big]["steps"].get("spark-hunt", {}).get("jvm_start_seconds") or 0.0)
    tsv_gb = runs[big]["input"]["bytes"] / nbig * n / 1e9
    free_gb = shutil.disk_usage(WORK if WORK.exists() else HERE).free / 1e9
    # the Spark intercept is JVM start + one job round trip per query (+ whatever else is
    # independent of the rows); on a cluster we keep it as measured
    duck_1b = df + ds * n
    duck_32 = df + ds * n * 2 / 32
    mem = _fit(runs, "duckdb-hunt", lambda r: float(r["peak_rss_mb"]) * 1024 * 1024)
    mem_1b = (mem[0] + mem[1] * n) / 1e9 if mem else None

    def spark_1b(k: int) -> float:
        return sf + (cpu_row * n) / (k * cores) + shuffle_row * n / (k * bandwidth)

    def first_k(target: float) -> int | None:
        for k in range(1, 10_001):
            if spark_1b(k) < target:
                return k
        return None

    k2, k32 = first_k(duck_1b), first_k(duck_32)
    lines = [
        "",
        f"- projection to 1,000,000,000 conn rows (about {tsv_gb:,.0f} GB of TSV), assuming "
        "cost linear in rows (the fits above"
        + (f", Spark with {_short_conf(conf)}" if conf else "")
        + "), executors of "
        f"{cores} cores that keep them busy as local[2] keeps 2, the measured Spark CPU cost "
        f"of {cpu_row * 1e6:.2f} core-µs per row (JVM + Python CPU seconds, slope) divided over "
        f"the cluster's cores, the shuffle ({shuffle_row:.0f} bytes/row, mostly the beacon "
        "scoring's repartition by pair) sent once over 10 Gbit/s per executor, "
        f"and the measured intercept ({sf:,.0f} s: JVM start {jvm:.0f} s plus per-query job "
        "scheduling) unchanged:",
        f"  - DuckDB on this 2-core machine: {duck_1b / 3600:,.1f} h, if it fitted: the TSV "
        f"and its Parquet need ~{tsv_gb * 1.33:,.0f} GB of disk before DuckDB's own spill "
        f"files ({free_gb:,.0f} GB free here now), and its peak memory, which grew with the "
        "rows, would have to spill"
        + (
            f" (at the {mem[1]:.0f} bytes per row its peak grew by here, ~{mem_1b:,.0f} GB "
            "to stay in memory)"
            if mem and mem_1b
            else ""
        )
        + "; on one 32-core machine with that much RAM and linear core scaling "
        f"(optimistic): {duck_32 / 60:,.0f} min",
        f"  - Spark on K executors x {cores} cores: "
        + ", ".join(f"K={k}: {spark_1b(k) / 60:,.0f} min" for k in (1, 4, 8, 16, 32, 64)),
        f"  - Spark beats DuckDB-on-this-machine from **K = {k2}** executors"
        if k2
        else "  - Spark does not beat DuckDB on this machine at any K up to 10,000",
        f"  - Spark beats DuckDB on one 32-core machine from **K = {k32}** executors "
        f"({k32 * cores if k32 else 0} cores)"
        if k32
        else "  - Spark does not beat a 32-core DuckDB machine at any K up to 10,000 "
        "(its intercept alone is larger)",
    ]
    return lines


def _limits(runs: dict[str, Any]) -> list[str]:
    """What did not fit this machine, and what did with other settings."""
    out = []
    for key in sorted(runs, key=_order):
        conf = _conf_of(key)
        for step, r in runs[key]["steps"].items():
            eng, what = step.split("-")
            if r.get("skipped"):
                continue
            err = str(r.get("failed") or "")
            who = (
                "DuckDB"
                if eng == "duckdb"
                else (
                    f"Spark with {_short_conf(conf)}" if conf else "Spark with duqhunt's settings"
                )
            )
            if "No space left" in err:
                out.append(
                    f"- {_rows(key):,} rows, {who} ({what}): the beacon scoring ran out of disk "
                    f"for DuckDB's temp files after {r.get('process_seconds', 0):,.0f} s (the "
                    f"step took up to {r.get('disk_peak_used_gb', 0):,.0f} GB of the "
                    f"{r.get('disk_free_before_gb', 0):,.0f} GB free, its Parquet included; "
                    f"peak RSS {r.get('peak_rss_mb', 0) / 1024:,.1f} GB); the detector failed "
                    "and the hunt reported it as a warning"
                )
            elif "OutOfMemory" in err or "UNABLE_TO_ACQUIRE_MEMORY" in err:
                out.append(
                    f"- {_rows(key):,} rows, {who} ({what}): out of execution memory "
                    f"(`UNABLE_TO_ACQUIRE_MEMORY` in a sort under the beacon scoring's window) "
                    f"after {r.get('process_seconds', 0):,.0f} s, {BEACON} having run "
                    f"{r.get('detectors', {}).get(BEACON, 0):,.0f} s; local mode's default 1 GB "
                    "driver heap holds about 430 MB of execution memory for both tasks and 8 "
                    "shuffle partitions put ~10M rows in each sort; the error is not caught "
                    "per detector, so the whole hunt stopped"
                )
            elif err:
                out.append(f"- {_rows(key):,} rows, {who} ({what}): failed: {err[:200]}")
            elif r.get("timed_out"):
                out.append(
                    f"- {_rows(key):,} rows, {who} ({what}): cut off by the time cap after "
                    f"{r.get('process_seconds', 0):,.0f} s"
                )
            elif (
                conf
                and what == "hunt"
                and any(
                    not _done(x) and not x.get("skipped")
                    for k2, e2 in runs.items()
                    if _rows(k2) == _rows(key)
                    for x in e2["steps"].values()
                )
            ):
                out.append(
                    f"- {_rows(key):,} rows, {who} ({what}): finished in {r['seconds']:,.0f} s "
                    f"({BEACON} {r.get('detectors', {}).get(BEACON, 0):,.0f} s), JVM peak "
                    f"{r.get('jvm_peak_rss_mb', 0) / 1024:,.1f} GB, disk peak "
                    f"{r.get('disk_peak_used_gb', 0):,.0f} GB"
                )
    if not out:
        return []
    return ["### What did not fit this machine, and what did", "", *out, ""]


def _feasibility(runs: dict[str, Any]) -> str:
    """Where (a) happened on this machine (DuckDB out of space, Spark through), or how far
    DuckDB got when it finished every size."""
    base = _base(runs)
    hunts = {k: runs[k]["steps"].get("duckdb-hunt") for k in base}
    if hunts and all(_done(r) for r in hunts.values()):
        n = max(hunts, key=_rows)
        d = hunts[n] or {}
        det = runs[n]["steps"].get("duckdb-detect") or {}
        return (
            f" On this machine DuckDB finished every size measured, up to {_rows(n):,} rows "
            f"({d.get('seconds', 0):,.0f} s, peak RSS {d.get('peak_rss_mb', 0) / 1024:,.1f} GB"
            + (
                (
                    f"; the detectors alone took {det['disk_peak_used_gb']:,.1f} GB of disk"
                    if det.get("disk_peak_used_gb", 0) >= 0.05
                    else "; the detectors alone took no measurable disk, under 0.05 GB"
                )
                if _done(det)
                else ""
            )
            + "), so case (a) lies beyond that: where the beacon scoring's working set (the "
            "memory line below) no longer fits DuckDB's memory limit plus the spill disk."
        )
    for key in sorted(base, key=_rows, reverse=True):
        n = _rows(key)
        d = runs[key]["steps"].get("duckdb-hunt") or {}
        if "No space left" not in str(d.get("failed") or ""):
            continue
        done = [
            (k, runs[k]["steps"]["spark-hunt"])
            for k in runs
            if _rows(k) == n and _done(runs[k]["steps"].get("spark-hunt"))
        ]
        if done:
            k, r = done[0]
            how = f"with {_short_conf(_conf_of(k))}" if _conf_of(k) else "as configured"
            return (
                f" Case (a) already happens on this machine at {n:,} rows: DuckDB's beacon "
                "scoring ran out of disk for its temporary files, while Spark "
                f"{how} finished the whole hunt in {r['seconds'] / 60:,.0f} min, its sorts "
                f"spilling in bounded memory (disk peak {r.get('disk_peak_used_gb', 0):,.0f} GB)."
            )
        return (
            f" At {n:,} rows this machine is at its limit: DuckDB's beacon scoring ran out of "
            "disk for its temporary files and no Spark run has finished the hunt yet."
        )
    return ""


def _why(runs: dict[str, Any]) -> list[str]:
    """The explanation, with this run's figures."""
    base = _base(runs)
    small = min(base, key=_rows) if base else None
    ten = str(10_000_000) if str(10_000_000) in base else None
    fig: dict[str, Any] = {}
    if ten:
        st = base[ten]["steps"]
        sd = st.get("spark-detect") or {}
        if _done(sd):
            fig["jobs"] = _shuffle_total(sd, "jobs")
            fig["stages"] = _shuffle_total(sd, "stages")
            fig["queries"] = sd.get("queries")
            fig["lat"] = sd.get("trivial_query_seconds")
            fig["dlat"] = st.get("duckdb-detect", {}).get("trivial_query_seconds")
    jvm = [
        float(r["jvm_start_seconds"])
        for e in base.values()
        for r in e["steps"].values()
        if r.get("jvm_start_seconds") is not None
    ]
    lines = ["### Why: where the fixed and per-row costs come from", ""]
    fixed = (
        "- **Fixed costs.** Spark pays a JVM and SparkSession start before it reads a byte"
        + (f" ({min(jvm):.1f}-{max(jvm):.1f} s here)" if jvm else "")
        + ", and every engine query is at least one Spark job: parse, analyse, optimise, "
        "plan stages, schedule tasks, collect the result to the driver as Arrow"
    )
    if fig.get("jobs"):
        fixed += (
            f". A hunt sends {fig['queries']} queries, which Spark runs as {fig['jobs']} jobs "
            f"and {fig['stages']} stages (each GROUP BY, window and non-broadcast join is a "
            "stage boundary; IOC and IP-class joins are broadcast, which is one more job each)"
        )
    if fig.get("lat") is not None and fig.get("dlat") is not None:
        fixed += (
            f"; a trivial query's round trip is {fig['lat'] * 1e3:.0f} ms on Spark and "
            f"{fig['dlat'] * 1e3:.2f} ms on DuckDB"
        )
    if small and small != ten:
        st = base[small]["steps"]
        sd, dd = st.get("spark-detect"), st.get("duckdb-detect")
        if sd and dd and _done(sd):
            fixed += (
                f". At {_label(small)} rows, where there is little data to process, Spark's "
                f"detectors-only step still takes {sd['seconds']:.0f} s (DuckDB "
                f"{dd['seconds']:.1f} s): that is the floor of per-job and per-stage costs "
                "(task launch, JIT and code generation of each new plan) a hunt pays on "
                "Spark whatever its size"
            )
    lines.append(fixed + ".")
    lines += [
        "- **Per-row costs.** On the same two cores Spark's per-row cost is many times "
        "DuckDB's (the slopes above): its CSV reader and Parquet writer run row by row in "
        "the JVM where DuckDB's are vectorised C++; every GROUP BY and window PARTITION BY "
        "is an exchange (hash-partition, serialise, compress, write shuffle files, read them "
        "back) even in local mode, where DuckDB hashes in memory; with the default 1 GB local "
        "driver and duqhunt's 8 shuffle partitions the beacon scoring's sorts spill to disk; "
        "and the exact PERCENTILE_CONT aggregates keep each pair's values in JVM objects. "
        f"The beacon scoring ({BEACON}) is most of both engines' detector time and "
        "nearly all of Spark's shuffle.",
        "- **Crossover.** So on one 2-core machine DuckDB is faster at every size it can "
        "finish: Spark's line starts higher and rises faster, the lines do not cross. Spark "
        "wins only (a) when the data does not fit one machine, where DuckDB cannot finish at "
        "all, or (b) when a cluster of K executors divides Spark's per-row cost by K and that "
        "beats one machine's whole time; the K it takes is estimated above, under the stated "
        "assumptions."
        + _feasibility(runs)
        + " The Spark path exists for those cases, and to hunt where the data already lives "
        "(a Spark cluster, Databricks, EMR) without moving it; docs/scale.md has the "
        "large-scale design.",
        "- Memory: DuckDB's peak grows with the rows, up to its memory limit (80% of RAM by "
        "default), past which it spills to `case.duckdb.tmp`: in the beacon scoring, a hash "
        "table with one count per distinct (kind, src, dst) and the sorts and percentiles "
        "over the rows of the pairs it scores, keyed by a BIGINT pair id. Before commit "
        "658cad9 the scoring also held its sessions (a CTE read twice, which DuckDB "
        "materialises), counted distinct sources in a second such hash table and sorted by "
        "the three VARCHAR keys: its peak grew ~170 bytes per conn row, and at 100M rows it "
        "took 16.6 GB of RAM and then over 45 GB of temporary files until the disk was full. "
        "The Spark JVM's peak is capped by its heap "
        "(spark.driver.memory: 1 GB by default, 8 GB in the sized runs) and Spark spills "
        "instead, or fails when a single sort cannot get memory. The Spark steps' Python peak on the hunt "
        "includes the log's pages, which the engine maps to look for a second header block "
        "(file-backed, reclaimable), not heap.",
    ]
    return lines


def report(data: dict[str, Any]) -> str:
    runs: dict[str, Any] = data["runs"]
    if not runs:
        return "## Spark suite\n\nNo runs yet.\n"
    lines = [
        "## Spark suite: the same hunt on DuckDB and on Spark local[2]",
        "",
        "The same conn.log (the network suite's generator) hunted by both engines, each step "
        "in a fresh process (benchmarks/scaleout.py has the details): *hunt* is a fresh case "
        "(the engine reads the TSV and writes Parquet, then every detector), *detect* the "
        "same hunt again on that case (detectors only). DuckDB runs with threads=2, Spark "
        f"with master {MASTER} and duqhunt's session settings (spark.sql.shuffle.partitions "
        "8, driver memory Spark's default unless a --spark-conf says otherwise). *seconds* "
        "is the step after imports (for Spark including the JVM start, also shown apart); "
        "*ingest/setup/detectors* are the hunt's phases; "
        f"*{BEACON} s* is the beacon scoring's doc.stats seconds; *queries* are engine "
        "queries (each at least one Spark job); *Python peak* is the step process's "
        "`ru_maxrss`, *JVM peak* the Spark JVM's `VmHWM` just before the session stops; "
        "*CPU s* is user + system seconds of the Python process and the JVM; *disk peak* the "
        "most disk the step took while it ran (Parquet, DuckDB's temp files, Spark's shuffle "
        "and spill files; sampled every 2 s); *others' CPU "
        "s* is what the rest of the machine used meanwhile (/proc/stat; a few seconds are the "
        "child's imports and Spark's launcher, more means the step shared the cores: each "
        "step waits for an idle machine first).",
        "",
    ]
    for key in sorted(runs, key=_order):
        e = runs[key]
        f = facts(e["command"], e["machine"])
        f[1] = f"- date: {e['date']}"
        # a later run of some steps (--spark-steps) keeps the others' figures: name them all
        cmds: dict[str, list[str]] = {}
        for step, r in e["steps"].items():
            if r.get("command"):
                cmds.setdefault(f"`{r['command']}` ({r.get('date', '?')})", []).append(step)
        if len(cmds) > 1:
            f[0] = "- commands: " + "; ".join(f"{c}: {', '.join(st)}" for c, st in cmds.items())
            f[1] = f"- date: {e['date']} (the latest)"
        mm = e["machine"]
        lines += [
            f"**{_label(key)} rows**",
            "",
            *f,
            f"- Spark: pyspark {mm.get('pyspark')}, {mm.get('java')}, master {MASTER}"
            + (f", extra conf {e['conf']}" if e.get("conf") else "")
            + (
                f", Spark steps capped at {e['timeout']:,.0f} s together"
                if e.get("timeout")
                else ""
            ),
            f"- input: {e['input']['path']}, {_rows(key):,} rows, "
            f"{e['input']['bytes'] / 1e6:,.0f} MB, {e['input']['planted_pairs']} planted "
            "periodic pairs",
            "",
        ]
    lines += [
        "### Time and memory",
        "",
        *_table(runs),
        "",
        "† other processes used more than 10% of the machine during the step (see *others' "
        "CPU s*): its wall time is inflated; its CPU seconds much less so.",
        "",
    ]
    lat = []
    for key in sorted(runs, key=_order):
        st = runs[key]["steps"]
        d = st.get("duckdb-detect", {}).get("trivial_query_seconds")
        sq = st.get("spark-detect", {}).get("trivial_query_seconds")
        parts = [f"DuckDB {d * 1e3:.2f} ms" if d is not None else ""]
        parts.append(f"Spark {sq * 1e3:.0f} ms" if sq is not None else "")
        if any(parts):
            lat.append(
                f"- trivial query round trip ({_label(key, True)} run): "
                + ", ".join(p for p in parts if p)
            )
    cut = [
        f"- {_label(k)} rows, {step}: "
        + (
            f"skipped ({r.get('failed') or 'time cap used up'})"
            if r.get("skipped")
            else (
                f"**failed** after {r.get('process_seconds', 0):,.0f} s: `{r['failed']}`"
                if r.get("failed")
                else f"cut off by the time cap after {r.get('process_seconds', 0):,.0f} s"
            )
            + "; finished by then: "
            + (
                ", ".join(f"{d} {v:.1f} s" for d, v in r.get("detectors", {}).items())
                or "no detector"
            )
            + "; phases reached: "
            + ", ".join(sorted(r.get("marks", {}), key=lambda m: r["marks"][m]))
            + (
                f"; JVM peak {r['jvm_peak_rss_mb']:,.0f} MB, CPU {r.get('jvm_cpu_seconds', 0):,.0f} s"
                if r.get("jvm_peak_rss_mb")
                else ""
            )
        )
        for k in sorted(runs, key=_order)
        for step, r in runs[k]["steps"].items()
        if not _done(r)
    ]
    lines += ["### Same findings?", ""]
    for key in sorted(runs, key=_order):
        p = _parity(runs[key], runs.get(str(_rows(key))))
        if p:
            lines += [f"{_label(key)} rows:", *p]
    lines += ["", "### Detector seconds (detect step, doc.stats)", "", *_detector_table(runs)]
    lines += ["", "### Spark: jobs, shuffle, Parquet", "", *_shuffle_lines(runs), *lat, *cut]
    lines += ["", "### Per-row costs, crossover and the 1B-row projection", ""]
    lines += _projection(runs)
    lines += ["", *_limits(runs), *_why(runs)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:]))
