"""The hunt: evidence in, one report document out. Everything the CLI does is this function."""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa

from duqhunt.analysis import AnalysisResult, build_report, most_severe_first
from duqhunt.campaign.network import build_campaign
from duqhunt.campaign.sightings import Sighting, logon_addresses, network_sightings
from duqhunt.content import (
    AllowList,
    IocPack,
    builtin_allowlists,
    builtin_ioc_packs,
    ioc_table,
    load_allowlist,
    load_ioc_pack,
)
from duqhunt.detectors.base import HuntContext
from duqhunt.detectors.contract import run_detectors
from duqhunt.detectors.net.zones import Network, in_networks, internal_hint, zones_table
from duqhunt.detectors.registry import all_detectors, known_params
from duqhunt.engines.base import Engine, Param, RemoteFile, is_uri, sql_literal
from duqhunt.errors import DuqhuntError, InputError, UsageError
from duqhunt.intel.sightings import sightings_from_report, store_sightings
from duqhunt.model import Finding, severity_rank
from duqhunt.model.finding import DETECTOR_PREFIXES
from duqhunt.model.grouping import merge_repeats
from duqhunt.model.report import InputRecord, NotAnalysed, ReportDocument
from duqhunt.safety import special_file
from duqhunt.sources.net.dialects import recognise
from duqhunt.sources.net.pcap import find_tshark, is_capture
from duqhunt.sources.net.zeek import sniff
from duqhunt.sources.net.zeek_json import MixedLogTypes
from duqhunt.sources.net.zeek_limits import Limits
from duqhunt.sources.net.zeek_schema import ANALYSED_LOGS, canonical_schema
from duqhunt.store import CaseStore, IngestResult
from duqhunt.triage import TriageStore, with_triage

log = logging.getLogger(__name__)

DEFAULT_INTERNAL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
MAX_INPUT_FILES = 100_000


class Progress(Protocol):
    """Told how far a hunt is: `step` (ingest, detect, host, documents), `done` of `total`
    (bytes for ingest, detectors for detect), and what it works on now (ingest: a file).
    Inside a big log, ingest is also told from a second thread (see _progress_within)."""

    def __call__(self, step: str, done: int, total: int, detail: str = "", /) -> None: ...


def _size(item: Path | RemoteFile) -> int:
    if isinstance(item, RemoteFile):
        return max(item.size, 0)
    try:
        return item.stat().st_size
    except OSError:  # said when the file is read
        return 0


@dataclass(frozen=True, slots=True)
class HuntOptions:
    inputs: tuple[Path | str, ...]  # local paths, or URIs (s3a://, hdfs://, file://) for Spark
    out: Path | None = None
    case: Path | None = None
    internal: tuple[str, ...] = DEFAULT_INTERNAL
    ioc_packs: tuple[Path, ...] = ()
    allowlists: tuple[Path, ...] = ()
    builtin_iocs: bool = True
    builtin_allowlists: bool = True
    params: tuple[tuple[str, Param], ...] = ()
    limits: Limits = field(default_factory=Limits)
    threads: int | None = None
    no_egress: tuple[str, ...] = ()
    engine: str = "duckdb"
    spark_master: str | None = None
    spark_conf: tuple[tuple[str, str], ...] = ()
    memory_limit: str | None = None  # DuckDB memory_limit, e.g. "8GB" (default: 80% of RAM)
    temp_limit: str | None = None  # DuckDB max_temp_directory_size (default: 90% of free disk)
    tshark: str | None = None
    yara: tuple[Path, ...] = ()
    sigma: tuple[Path, ...] = ()


def parse_networks(
    cidrs: Iterable[str], option: str = "--internal"
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for c in cidrs:
        try:
            nets.append(ipaddress.ip_network(c.strip(), strict=False))
        except ValueError:
            raise UsageError(f"{option} {c!r} is not a CIDR network (e.g. 10.0.0.0/8)") from None
    return tuple(nets)


def _covered(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network,
    nets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> bool:
    return any(
        net.version == n.version and net.subnet_of(n)  # type: ignore[arg-type]
        for n in nets
    )


def check_params(params: Iterable[tuple[str, Param]]) -> None:
    """Every --param names a parameter a detector reads and holds a finite number >= 0
    (scores and shares at most 1): a typo or an 'inf' would otherwise silently change or
    hide findings."""
    known = known_params()
    for name, value in params:
        if name not in known:
            raise UsageError(
                f"--param {name}: no detector reads it; known: {', '.join(sorted(known))}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"--param {name}={value!r}: not a number")
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"--param {name}={value!r}: must be a finite number >= 0")
        if name.endswith(("_score", "_share")) and value > 1:
            raise UsageError(f"--param {name}={value!r}: a score or share is at most 1")


@dataclass(frozen=True, slots=True)
class RoutedInputs:
    """Inputs split by the analyzer that reads them."""

    files: list[Path]  # network evidence (Zeek logs, captures) and anything unrecognised
    host: list[Path]  # triage folders (a Windows volume layout) and loose host artefacts
    documents: list[Path]  # Office documents, RTF, fonts and archives for the document scanner
    remote: list[str] = field(default_factory=list)  # URIs, listed and read by the engine
    # what was found but not opened: (path, reason) for FIFOs, sockets, devices, unreadable
    # folders and symlinks not followed
    skipped: list[tuple[str, str]] = field(default_factory=list)


def route_inputs(inputs: Iterable[Path | str]) -> RoutedInputs:
    """Files under the inputs, sorted, split by analyzer. A folder laid out like a Windows
    volume is host evidence as a whole (not walked file by file); symlinks are not followed
    out of a given folder. Only regular files are opened: FIFOs, sockets and devices (which
    would block a reader or never end), folders that cannot be read and symlinks not followed
    are listed in ``skipped`` with the reason. URIs (``s3a://...``, ``file:///...``, globs
    allowed) are not touched here: the engine's file system lists them (see hunt)."""

    # the host and document scanners are imported when a path needs them (about 0.45 s of
    # imports that a hunt of Zeek logs alone never uses)
    def is_host_evidence(p: Path) -> bool:
        from duqhunt.hostscan import is_host_evidence as check

        return check(p)

    def is_document(p: Path) -> bool:
        from duqhunt.docscan import is_document as check

        return check(p)

    files: list[Path] = []
    host: list[Path] = []
    documents: list[Path] = []
    skipped: list[tuple[str, str]] = []

    def add(p: Path) -> None:
        why = special_file(p)
        if why is not None:
            skipped.append((str(p), why))
            return
        if is_capture(p) or sniff_safe(p):
            files.append(p)
        elif is_host_evidence(p):
            host.append(p)
        elif is_document(p):
            documents.append(p)
        else:
            files.append(p)
        if len(files) + len(host) + len(documents) > MAX_INPUT_FILES:
            raise UsageError(f"more than {MAX_INPUT_FILES} input files")

    def unreadable(exc: OSError) -> None:
        skipped.append((str(exc.filename), f"folder not readable: {exc.strerror or exc}"))

    remote: list[str] = []
    for item in inputs:
        if isinstance(item, str) and is_uri(item):
            remote.append(item)
            continue
        root = Path(item)
        if not root.exists():
            raise UsageError(f"input {root} does not exist")
        if not root.is_dir():
            add(root)
            continue
        if is_host_evidence(root):
            host.append(root)
            continue
        base = root.resolve()
        before = len(files) + len(host) + len(documents) + len(skipped)
        for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
            dirnames.sort()
            for d in list(dirnames):
                sub = Path(dirpath) / d
                if d.startswith("."):
                    continue
                if sub.is_symlink():
                    skipped.append((str(sub), "symlink to a folder, not followed"))
                elif is_host_evidence(sub):
                    host.append(sub)
                    dirnames.remove(d)
            for name in sorted(filenames):
                p = Path(dirpath) / name
                if name.startswith("."):
                    continue
                if p.is_symlink():
                    try:
                        p.resolve().relative_to(base)
                    except (ValueError, OSError):
                        log.warning("%s: symlink out of %s, not followed", p, root)
                        skipped.append((str(p), f"symlink out of {root}, not followed"))
                        continue
                add(p)
        if len(files) + len(host) + len(documents) + len(skipped) == before:
            skipped.append((str(root), "no files in the folder"))
    return RoutedInputs(files=files, host=host, documents=documents, remote=remote, skipped=skipped)


def sniff_safe(path: Path) -> bool:
    """True for a Zeek log (TSV or JSON), without raising on unreadable files."""
    try:
        return sniff(path) is not None
    except OSError:
        return False


def collect_files(inputs: Iterable[Path | str]) -> list[Path]:
    """Every input file and host folder, sorted by analyzer (network, host, documents)."""
    routed = route_inputs(inputs)
    return [*routed.files, *routed.host, *routed.documents]


def _classify_ips(engine_query: Callable[[str], pa.Table], nets: Sequence[Network]) -> pa.Table:
    sql = " UNION ".join(
        f"SELECT {col} AS ip FROM {t} WHERE {col} IS NOT NULL"
        for t in (
            "conn",
            "http",
            "ssl",
            "dns",
            "files",
            "smb_mapping",
            "smb_files",
            "dce_rpc",
            "ntlm",
            "kerberos",
        )
        for col in ("id_orig_h", "id_resp_h")
    )
    ips = engine_query(f"SELECT DISTINCT ip FROM ({sql}) u").column("ip").to_pylist()
    internal = in_networks(ips, nets)
    return pa.table({"ip": pa.array(ips, pa.string()), "internal": pa.array(internal, pa.bool_())})


def _ingest_capture(
    store: CaseStore,
    path: Path,
    options: HuntOptions,
    inputs: list[InputRecord],
    not_analysed: list[NotAnalysed],
    warnings: list[str],
) -> None:
    """A pcap/pcapng file: decoded by tshark into the same tables (see sources/net/pcap.py)."""
    try:
        tshark = find_tshark(options.tshark)
    except UsageError as exc:
        if options.tshark:
            raise
        not_analysed.append(NotAnalysed(path=str(path), reason=str(exc)))
        inputs.append(InputRecord(path=str(path), kind="pcap", status="not-analysed"))
        warnings.append(f"{path}: {exc}")
        return
    try:
        res = store.ingest_pcap(path, tshark, options.limits)
    except (InputError, OSError, duckdb.Error, pa.ArrowException) as exc:
        reason = exc.reason if isinstance(exc, InputError) else f"capture not decoded: {exc}"
        not_analysed.append(NotAnalysed(path=str(path), reason=reason))
        inputs.append(InputRecord(path=str(path), kind="pcap", status="not-analysed"))
        warnings.append(f"{path}: {reason}")
        return
    warnings.extend(res.warnings)
    if res.status == "partial":
        not_analysed.append(
            NotAnalysed(path=str(path), reason="partly analysed: " + "; ".join(res.warnings[:2]))
        )
    inputs.append(
        InputRecord(
            path=str(path),
            kind="pcap",
            sha256=res.sha256,
            status=res.status,  # type: ignore[arg-type]
            log_type="pcap",
            rows=res.rows,
            skipped_rows=res.skipped_rows,
        )
    )


# names a remote file must have to be read as a Zeek log (its content decides TSV or JSON)
_REMOTE_LOG_SUFFIXES = (".log", ".json", ".ndjson", ".jsonl")


def _list_remote(engine: Engine, uris: list[str]) -> list[RemoteFile]:
    if not uris:
        return []
    if engine.storage is None:
        raise UsageError(f"{uris[0]}: remote inputs need --engine spark")
    found: dict[str, RemoteFile] = {}
    for uri in uris:
        for rf in engine.storage.list_files(uri):
            found.setdefault(rf.uri, rf)
            if len(found) > MAX_INPUT_FILES:
                raise UsageError(f"more than {MAX_INPUT_FILES} input files")
    return sorted(found.values(), key=lambda r: r.uri)


def _ingest_remote(
    store: CaseStore,
    remote: RemoteFile,
    options: HuntOptions,
    inputs: list[InputRecord],
    not_analysed: list[NotAnalysed],
    warnings: list[str],
) -> None:
    """A log named by a URI: chosen by its name, read by the engine from its file system."""
    name = remote.name.lower().removesuffix(".gz")
    if not name.endswith(_REMOTE_LOG_SUFFIXES):
        reason = (
            "captures are decoded on the driver: copy them to a local path"
            if name.endswith((".pcap", ".pcapng", ".cap"))
            else "not a Zeek log by its name (remote inputs: *.log, *.json, *.ndjson, "
            "optionally .gz)"
        )
        not_analysed.append(NotAnalysed(path=remote.uri, reason=reason))
        inputs.append(InputRecord(path=remote.uri, kind="unknown", status="not-analysed"))
        return
    try:
        res = store.ingest_remote(remote, options.limits)
    except InputError as exc:
        warnings.append(exc.describe())
        not_analysed.append(NotAnalysed(path=remote.uri, reason=exc.reason))
        inputs.append(InputRecord(path=remote.uri, kind="zeek", status="not-analysed"))
        return
    except (OSError, duckdb.Error, pa.ArrowException, *store.engine.errors) as exc:
        warnings.append(f"{remote.uri}: {exc}")
        not_analysed.append(NotAnalysed(path=remote.uri, reason=f"ingest failed: {exc}"))
        inputs.append(InputRecord(path=remote.uri, kind="zeek", status="not-analysed"))
        return
    _record_zeek(res, remote.uri, f"zeek-{res.fmt}", inputs, not_analysed, warnings)


def _ingest_log_file(
    store: CaseStore,
    path: Path,
    fmt: str,
    options: HuntOptions,
    inputs: list[InputRecord],
    not_analysed: list[NotAnalysed],
    warnings: list[str],
) -> None:
    """A local log file: recognised by its content first, then its name (dialects.recognise);
    Zeek's own layout is read in place, an export is split by log type; a file whose log type
    cannot be told is not analysed, with the fields it has."""
    kind = f"zeek-{fmt}"
    try:
        rec = recognise(path, fmt, options.limits)
        kind = f"zeek-{fmt}" if rec.dialect == "zeek" else f"zeek-{fmt}-{rec.dialect}"
        if rec.in_place and rec.log_type is None:
            _unknown_type(str(path), kind, rec.fields_seen, inputs, not_analysed, warnings)
            return
        if rec.in_place:
            try:
                res = store.ingest_zeek(
                    path, options.limits, log_type=rec.log_type, type_key=rec.type_key
                )
            except MixedLogTypes as exc:
                log.info("%s", exc)  # more types further down than the sample showed
            else:
                _record_zeek(res, str(path), kind, inputs, not_analysed, warnings)
                return
        exp = store.ingest_export(path, fmt, options.limits)
    except InputError as exc:
        warnings.append(exc.describe())
        not_analysed.append(NotAnalysed(path=str(path), reason=exc.reason))
        inputs.append(InputRecord(path=str(path), kind=kind, status="not-analysed"))
        return
    except (OSError, duckdb.Error, pa.ArrowException, *store.engine.errors) as exc:
        warnings.append(f"{path}: {exc}")
        not_analysed.append(NotAnalysed(path=str(path), reason=f"ingest failed: {exc}"))
        inputs.append(InputRecord(path=str(path), kind=kind, status="not-analysed"))
        return
    warnings.extend(exp.warnings)
    for res in exp.logs:
        _record_zeek(res, str(path), kind, inputs, not_analysed, warnings, own_warnings=False)
    if exp.skipped_rows or exp.truncated:
        what = f"{exp.skipped_rows} bad row(s) skipped" if exp.skipped_rows else "truncated"
        not_analysed.append(NotAnalysed(path=str(path), reason=f"partly analysed: {what}"))
    if exp.unknown_rows and exp.logs:
        msg = (
            f"{exp.unknown_rows} row(s) of unknown log type not analysed "
            f"(fields seen: {', '.join(exp.unknown_fields) or 'none'})"
        )
        warnings.append(f"{path}: {msg}")
        not_analysed.append(NotAnalysed(path=str(path), reason=f"partly analysed: {msg}"))
    elif not exp.logs:
        if exp.unknown_rows or not (exp.skipped_rows or exp.truncated):
            _unknown_type(str(path), kind, exp.unknown_fields, inputs, not_analysed, warnings)
        else:
            inputs.append(InputRecord(path=str(path), kind=kind, status="not-analysed"))


def _unknown_type(
    path: str,
    kind: str,
    fields: tuple[str, ...],
    inputs: list[InputRecord],
    not_analysed: list[NotAnalysed],
    warnings: list[str],
) -> None:
    reason = (
        "not analysed: unknown log type (no type field, no log's field set, no Zeek log name; "
        f"fields seen: {', '.join(fields) or 'none'})"
    )
    warnings.append(f"{path}: {reason}")
    not_analysed.append(NotAnalysed(path=path, reason=reason))
    inputs.append(InputRecord(path=path, kind=kind, status="not-analysed"))


def _record_zeek(
    res: IngestResult,
    path: str,
    kind: str,
    inputs: list[InputRecord],
    not_analysed: list[NotAnalysed],
    warnings: list[str],
    *,
    own_warnings: bool = True,
) -> None:
    """One ingested log in the report. A log type no detector reads (weird, x509...) is
    stored but listed as skipped, with the reason: it was not analysed."""
    if own_warnings:
        warnings.extend(res.warnings)
    else:
        warnings.extend(w for w in res.warnings if w not in warnings)
    status = res.status
    if res.log_type not in ANALYSED_LOGS and status in ("analysed", "partial"):
        status = "skipped"
        not_analysed.append(
            NotAnalysed(
                path=path,
                reason=f"stored, not read by any detector: log type {res.log_type!r}",
            )
        )
    elif res.status == "partial" or res.earlier_partial:
        skipped = f"{res.skipped_rows} bad row(s) skipped" if res.skipped_rows else ""
        trunc = (
            "truncated" if any("truncated" in w or "not read" in w for w in res.warnings) else ""
        )
        reason = "; ".join(x for x in (skipped, trunc) if x) or "partly read"
        when = " (when it was ingested into the case)" if res.earlier_partial else ""
        not_analysed.append(NotAnalysed(path=path, reason=f"partly analysed{when}: {reason}"))
    inputs.append(
        InputRecord(
            path=path,
            kind=kind,
            sha256=res.sha256,
            status=status,  # type: ignore[arg-type]
            log_type=res.log_type,
            rows=res.rows,
            skipped_rows=res.skipped_rows,
        )
    )


_HOUR = 3600.0
# the robust span reaches this many interquartile ranges (and at least a day) past the
# quartiles of the rows' times; rows beyond it are outliers, reported and left out
_FENCE_IQRS = 3
_FENCE_MIN_HOURS = 24


def _iso(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return repr(ts)


def robust_span(hours: Iterable[tuple[int, int]]) -> tuple[float, float] | None:
    """(start, end) in epoch seconds from an hourly histogram of row times (hour index,
    rows): the quartile hours widened by _FENCE_IQRS interquartile ranges (at least
    _FENCE_MIN_HOURS) on each side. A handful of rows far from the rest (a clock set to 2038,
    a row from 1995 among rows from 2011) falls outside it; the bulk of the evidence never
    does, whatever its length."""
    hist = sorted((int(h), int(n)) for h, n in hours if n)
    total = sum(n for _, n in hist)
    if not total:
        return None
    q1 = q3 = hist[0][0]
    cum = 0
    seen_q1 = False
    for h, n in hist:
        cum += n
        if not seen_q1 and cum >= 0.25 * total:
            q1, seen_q1 = h, True
        if cum >= 0.75 * total:
            q3 = h
            break
    margin = max(_FENCE_IQRS * (q3 - q1 + 1), _FENCE_MIN_HOURS)
    return (q1 - margin) * _HOUR, (q3 + 1 + margin) * _HOUR


def _prepare_span(
    store: CaseStore, limits: Limits, warnings: list[str], stats: dict[str, int | float | str]
) -> Engine:
    """Register the logs for the detectors with only the rows whose time is plausible
    (finite, 1990 to tomorrow: a case stored before rows were checked is healed here) and
    inside the robust span of the evidence (see robust_span), reporting what is left out.
    The window and every time-binned score then come from those rows, never from the raw
    minimum and maximum."""
    engine = store.prepare_engine()
    present = [
        lt
        for lt in store.files_by_log()
        if lt in ANALYSED_LOGS and "ts" in canonical_schema(lt).names
    ]
    if not present:
        return engine
    lo, hi = limits.ts_bounds()
    plausible = f"ts >= {sql_literal(lo)} AND ts <= {sql_literal(hi)}"
    base = "conn" if "conn" in present else ("http" if "http" in present else present[0])
    hist = engine.query(
        f"SELECT CAST(FLOOR(ts / 3600.0) AS BIGINT) AS h, COUNT(*) AS n FROM {base} "
        f"WHERE {plausible} GROUP BY CAST(FLOOR(ts / 3600.0) AS BIGINT)"
    ).to_pylist()
    span = robust_span((r["h"], r["n"]) for r in hist)
    keep_lo, keep_hi = (max(lo, span[0]), min(hi, span[1])) if span else (lo, hi)
    inside = f"ts >= {sql_literal(keep_lo)} AND ts <= {sql_literal(keep_hi)}"
    counts = engine.query(
        " UNION ALL ".join(
            f"SELECT '{lt}' AS log, "
            f"SUM(CASE WHEN {plausible} THEN 0 ELSE 1 END) AS implausible, "
            f"SUM(CASE WHEN ({plausible}) AND NOT ({inside}) THEN 1 ELSE 0 END) AS outside "
            f"FROM {lt} WHERE ts IS NOT NULL"
            for lt in present
        )
    ).to_pylist()
    implausible = {r["log"]: int(r["implausible"] or 0) for r in counts}
    outside = {r["log"]: int(r["outside"] or 0) for r in counts}
    if not any(implausible.values()) and not any(outside.values()):
        return engine
    for lt in present:
        if implausible[lt]:
            warnings.append(
                f"the case holds {implausible[lt]} {lt} row(s) with a NaN/Inf time or one "
                "outside the plausible span (1990 to one day from now), stored before rows "
                "were checked: left out of the analysis"
            )
        if outside[lt]:
            warnings.append(
                f"{outside[lt]} {lt} row(s) lie outside the robust time span of the evidence "
                f"({_iso(keep_lo)} to {_iso(keep_hi)}, from the quartiles of the {base} "
                "rows' times): left out of the window and the time-binned scores"
            )
    stats["rows_implausible_time"] = sum(implausible.values())
    stats["rows_outside_time_span"] = sum(outside.values())
    where = f"ts IS NULL OR ({inside})"
    return store.prepare_engine({lt: where for lt in present})


def _make_engine(options: HuntOptions) -> Engine | None:
    """None for the embedded DuckDB default; Spark is imported only when asked for."""
    if options.engine == "duckdb":
        return None
    if options.engine == "spark":
        from duqhunt.engines.spark import SparkEngine

        return SparkEngine(options.spark_master, conf=dict(options.spark_conf))
    raise UsageError(f"--engine {options.engine!r}: choose duckdb or spark")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def hunt(options: HuntOptions, progress: Progress | None = None) -> ReportDocument:
    """Ingest every input into the case store, run the detectors, return the report document.

    Bad files become not_analysed entries and warnings; a bad option raises UsageError; a bad
    content pack raises ContentError. Writes nothing but the case store (see write_outputs).
    """
    started = _now()
    nets = parse_networks(options.internal)
    declared = parse_networks(options.no_egress, "--no-egress")
    check_params(options.params)
    if options.threads is not None and options.threads < 1:
        raise UsageError(f"--threads {options.threads}: at least 1")
    packs: list[IocPack] = list(builtin_ioc_packs()) if options.builtin_iocs else []
    packs += [load_ioc_pack(p) for p in options.ioc_packs]
    allows: list[AllowList] = list(builtin_allowlists()) if options.builtin_allowlists else []
    allows += [load_allowlist(p) for p in options.allowlists]
    routed = route_inputs(options.inputs)
    if routed.remote and options.engine != "spark":
        raise UsageError(
            f"{routed.remote[0]}: remote inputs need --engine spark (DuckDB reads local "
            "paths: copy or mount the logs)"
        )
    if options.spark_conf and options.engine != "spark":
        raise UsageError("--spark-conf needs --engine spark")
    case_path = options.case or (options.out or Path(".")) / "case.duckdb"
    triage = TriageStore.for_case(case_path)
    case_allow = triage.allowlist()  # benign verdicts an analyst turned into allow entries
    if case_allow is not None:
        allows.append(case_allow)

    results: list[AnalysisResult] = [_skipped_result(routed.skipped)]
    with CaseStore(
        case_path,
        threads=options.threads,
        engine=_make_engine(options),
        memory_limit=options.memory_limit,
        temp_limit=options.temp_limit,
    ) as store:
        network, ctx, zones = _analyse_network(
            store, routed, options, _Scope(nets, declared, packs, allows), progress
        )
        results.append(network)
        host_sightings: list[Sighting] = []
        if routed.host:
            if progress:
                progress("host", 0, 1)
            from duqhunt.hostscan import scan_host

            host_res = scan_host(routed.host, yara_rules=options.yara, sigma_rules=options.sigma)
            results.append(host_res)
            host_sightings = list(host_res.sightings)
            if progress:
                progress("host", 1, 1)
        if routed.documents:
            if progress:
                progress("documents", 0, 1)
            from duqhunt.docscan import scan_documents

            results.append(scan_documents(routed.documents, yara_rules=options.yara))
            if progress:
                progress("documents", 1, 1)
        findings = most_severe_first(f for r in results for f in r.findings)
        doc = build_report(
            results,
            started=started,
            finished=_now(),
            engine=options.engine,
            case=str(case_path),
            internal_networks=[str(n) for n in nets],
            findings=with_triage(merge_repeats(_with_earlier(store, findings)), triage.current()),
            campaign=build_campaign(findings, ctx),
            sightings=logon_addresses(ctx, host_sightings),
            zones=_zone_map(zones),
            summary=True,
        )
        # the case keeps findings without verdicts: triage lives in its own file, current at
        # every read
        store.save_findings(
            [
                (f.id, f.detector, f.model_copy(update={"triage": None}).model_dump_json())
                for f in doc.findings
            ]
        )
        store_sightings(store, sightings_from_report(doc), origin="hunt")
        store.save_run(doc.started, doc.finished, doc.model_dump_json())
    return doc


def _skipped_result(skipped: Sequence[tuple[str, str]]) -> AnalysisResult:
    """What routing found but did not open (FIFOs, devices, unreadable folders, symlinks)."""
    return AnalysisResult(
        "input",
        inputs=tuple(
            InputRecord(path=p, kind="unknown", status="not-analysed") for p, _ in skipped
        ),
        not_analysed=tuple(NotAnalysed(path=p, reason=why) for p, why in skipped),
        warnings=tuple(f"{p}: {why}" for p, why in skipped),
    )


@dataclass(frozen=True, slots=True)
class _Scope:
    """What the network detectors are told about the network and what is known of it."""

    internal: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    no_egress: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    packs: list[IocPack]
    allowlists: list[AllowList]


# a log smaller than this is read in about a second or less: its progress moves per file
PROGRESS_WITHIN_BYTES = 16 << 20
PROGRESS_TICK_S = 0.5


@contextmanager
def _progress_within(
    progress: Progress | None, store: CaseStore, done: int, size: int, total: int, name: str
) -> Iterator[None]:
    """Moves the ingest bar inside one big log: while it is read, a thread asks the store how
    far its reader has got (bytes of the file, or the engine's own measure) and reports that
    share of the file's size. The bar never moves back (the exact reader starts a file again
    when the engine's reader hands it over)."""
    if progress is None or size < PROGRESS_WITHIN_BYTES:
        yield
        return
    stop = threading.Event()

    def tick() -> None:
        shown = done
        while not stop.wait(PROGRESS_TICK_S):
            fraction = store.read_fraction()
            if fraction is not None and done + int(fraction * size) > shown:
                shown = done + int(fraction * size)
                progress("ingest", shown, total, name)

    ticker = threading.Thread(target=tick, name="ingest-progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()


def _analyse_network(
    store: CaseStore,
    routed: RoutedInputs,
    options: HuntOptions,
    scope: _Scope,
    progress: Progress | None,
) -> tuple[AnalysisResult, HuntContext, pa.Table]:
    """Ingest the network evidence into the case, then run the network detectors over
    everything the case holds. Returns the result, the detectors' context (the campaign layer
    reads their typed outputs) and the zones of the internal addresses."""
    nets, declared = scope.internal, scope.no_egress
    # a declared secure zone is internal by definition, whatever --internal says
    classify = (*nets, *(n for n in declared if not _covered(n, nets)))
    inputs: list[InputRecord] = []
    not_analysed: list[NotAnalysed] = []
    warnings: list[str] = []
    remote = _list_remote(store.engine, routed.remote)
    todo: list[Path | RemoteFile] = [*routed.files, *remote]
    # bytes, not files: one big conn.log among small logs is most of the wait
    sizes = [_size(p) for p in todo]
    total_bytes, done_bytes = sum(sizes), 0
    for path, size in zip(todo, sizes, strict=True):
        if progress:
            progress("ingest", done_bytes, total_bytes, path.name)
        start = done_bytes
        done_bytes += size
        if isinstance(path, RemoteFile):
            with _progress_within(progress, store, start, size, total_bytes, path.name):
                _ingest_remote(store, path, options, inputs, not_analysed, warnings)
            continue
        if is_capture(path):
            _ingest_capture(store, path, options, inputs, not_analysed, warnings)
            continue
        try:
            kind = sniff(path, options.limits)
        except OSError as exc:
            not_analysed.append(NotAnalysed(path=str(path), reason=f"cannot read: {exc}"))
            inputs.append(InputRecord(path=str(path), kind="unknown", status="not-analysed"))
            continue
        if kind is None:
            reason = (
                "not a recognised evidence type (expected Zeek TSV or JSON logs, "
                "a SIEM export of them (JSON lines or CSV), pcap or pcapng)"
            )
            not_analysed.append(NotAnalysed(path=str(path), reason=reason))
            inputs.append(InputRecord(path=str(path), kind="unknown", status="not-analysed"))
            continue
        with _progress_within(progress, store, start, size, total_bytes, path.name):
            _ingest_log_file(store, path, kind, options, inputs, not_analysed, warnings)
    if progress:
        progress("ingest", total_bytes, total_bytes)

    span_stats: dict[str, int | float | str] = {}
    try:
        engine = _prepare_span(store, options.limits, warnings, span_stats)
        ip_class = _classify_ips(lambda q: engine.query(q), classify)
        engine.register_arrow("ip_class", ip_class)
        engine.register_arrow("ioc", ioc_table(scope.packs))
        zones = zones_table(engine, declared)
        engine.register_arrow("zones", zones)
        hint = internal_hint(engine, ip_class, nets)
        if hint:
            warnings.append(hint)
        win = engine.query("SELECT MIN(ts) AS lo, MAX(ts) AS hi FROM conn").to_pylist()[0]
        if win["lo"] is None:
            win = engine.query("SELECT MIN(ts) AS lo, MAX(ts) AS hi FROM http").to_pylist()[0]
        window = (float(win["lo"]), float(win["hi"])) if win["lo"] is not None else None
        # hosts with internet access of their own (zones.sql), the beacon prevalence base
        internal_hosts = sum(1 for z in zones.column("zone").to_pylist() if z == "egress")
    except (duckdb.Error, pa.ArrowException, *store.engine.errors) as exc:
        # e.g. out of memory or spill space: nothing ingested is lost, the case keeps it
        raise DuqhuntError(
            f"the hunt stopped before the detectors ran: {exc}. The case keeps everything "
            "ingested so far; hunt it again (with a larger --memory-limit/--temp-limit if "
            "DuckDB ran out of memory or disk)"
        ) from None
    ctx = HuntContext(
        engine=engine,
        internal=nets,
        packs=scope.packs,
        allowlists=scope.allowlists,
        window=window,
        internal_hosts=int(internal_hosts or 0),
        params=dict(options.params),
    )
    # a detector's failure costs only its findings, on any engine (DuckDB, Arrow, Spark/Py4J)
    caught = (duckdb.Error, pa.ArrowException, ValueError, KeyError, *engine.errors)
    run = run_detectors(
        all_detectors(),
        ctx,
        caught,
        (lambda i, n: progress("detect", i, n)) if progress else None,
    )
    warnings.extend(run.warnings)
    not_analysed.extend(run.not_analysed)
    stats: dict[str, int | float | str] = {
        f"rows_{k}": v for k, v in sorted(store.ingested_rows().items())
    }
    if ctx.outputs.beacons_scored is not None:
        stats["beacons_scored"] = ctx.outputs.beacons_scored
        stats["beacons_suppressed"] = ctx.outputs.beacons_suppressed
    stats["internal_hosts_with_egress"] = ctx.internal_hosts
    stats.update(span_stats)
    for det_id, secs in run.seconds.items():
        stats[f"seconds_{det_id}"] = secs
    if window:
        stats["window_start"] = window[0]
        stats["window_end"] = window[1]
    result = AnalysisResult(
        "network",
        findings=tuple(run.findings),
        inputs=tuple(inputs),
        not_analysed=tuple(not_analysed),
        warnings=tuple(warnings),
        stats=tuple(stats.items()),
        sightings=tuple(network_sightings(ctx)),
    )
    return result, ctx, zones


def _zone_map(zones: pa.Table) -> dict[str, str]:
    return {
        str(ip): str(zone)
        for ip, zone in zip(
            zones.column("ip").to_pylist(), zones.column("zone").to_pylist(), strict=True
        )
        if ip is not None and zone is not None
    }


def _with_earlier(store: CaseStore, findings: list[Finding]) -> list[Finding]:
    """This run's findings, plus the host and document findings of earlier runs of the case:
    the store keeps network telemetry and re-analyses it, but host and document evidence is
    only kept as findings, so a later run with new evidence still reports the whole case."""
    current = list(findings)
    ids = {f.id for f in current}
    earlier = [
        Finding.model_validate_json(doc)
        for doc in store.stored_findings(
            (DETECTOR_PREFIXES["host"], DETECTOR_PREFIXES["document"]), ids
        )
    ]
    merged = current + earlier
    merged.sort(key=lambda f: (-severity_rank(f.severity), -f.confidence, f.id))
    return merged


def analysed_anything(doc: ReportDocument) -> bool:
    """True when at least one input was analysed (now or in an earlier run of the case)."""
    return any(i.status in ("analysed", "partial", "already-ingested") for i in doc.inputs)
