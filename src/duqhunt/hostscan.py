"""Host triage: the implant's traces and the spread, from what responders collect.

``scan_host(paths)`` reads triage folders (or mounted volumes laid out like a Windows volume)
and loose artefacts (SYSTEM/SOFTWARE/NTUSER hives and .reg exports, *.evtx and JSON event
exports, *.job, drivers and other PE files, .pnf files), runs the host detectors (DQ-HOST-nnn)
and returns findings, the inputs, what was not analysed and a host timeline. Raw/E01/VMDK
images are opened through dissect.target when the optional ``image`` extra is installed
(AGPL-3.0, never a core dependency; see hostimage.py), in a worker process under the hard
limits of one image (``HostLimits.hard_seconds_per_image``, ``memory_per_file``).

Fail soft per artefact: a corrupt hive, an EVTX with a bad chunk, an unreadable file or a
symlink loop becomes a warning and a ``not_analysed`` entry. Symlinks are never followed out
of the given root. Nothing is ever executed.

Benchmark (the figures go to benchmarks/, the lead wires ``make bench``)::

    .venv/bin/python -m duqhunt.hostscan --bench EVTX_OR_FOLDER [...]

prints EVTX records/s through duqhunt, the raw ``evtx`` package rate on the same files, and
the wall time of a full ``scan_host`` over the given paths.
"""

from __future__ import annotations

import logging
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from duqhunt.analysis import AnalysisResult, build_report, most_severe_first
from duqhunt.campaign.sightings import artefact_sightings
from duqhunt.detectors.contract import run_detectors
from duqhunt.detectors.host import host_detectors
from duqhunt.detectors.host.base import HostArtefacts, HostContext, PnfInfo, YaraHit
from duqhunt.detectors.host.content import (
    builtin_cert_pack,
    builtin_host_pack,
    builtin_known_good,
    builtin_yara_rules,
    load_known_good,
)
from duqhunt.detectors.host.sigma import SigmaQuery, builtin_sigma_files, load_sigma, rule_files
from duqhunt.errors import ContentError, InputError, UsageError
from duqhunt.hostimage import open_image, unmap_image_paths
from duqhunt.hosttimeline import timeline
from duqhunt.isolation import Sandbox, call_apart
from duqhunt.model.report import InputRecord, NotAnalysed, ReportDocument
from duqhunt.safety import Deadline, digest_file, special_file
from duqhunt.sources.host.eventlog import WANTED, EventLogRead, read_event_json, read_evtx
from duqhunt.sources.host.jobfile import read_job
from duqhunt.sources.host.pe import entropy, read_pe
from duqhunt.sources.host.registry import read_hive_file, read_reg_export
from duqhunt.sources.host.walk import (
    EVTX_MAGIC,
    FileEntry,
    HostLimits,
    WalkProblem,
    classify,
    single_file,
    walk_triage,
)

log = logging.getLogger(__name__)

__all__ = ["HostLimits", "is_host_evidence", "scan_host"]


def is_host_evidence(path: Path) -> bool:
    """True for files the host scan reads (so hunt can route them) and for triage folders."""
    try:
        if path.is_dir():
            return any((path / n).is_dir() for n in ("Windows", "windows", "WINDOWS"))
        if special_file(path) is not None:
            return False  # a FIFO or device: never opened
        kind = classify(path)
    except OSError:
        return False
    return kind in ("hive", "reg-export", "evtx", "event-json", "job", "pnf", "image") or (
        kind == "pe" and path.suffix.lower() == ".sys"
    )


@dataclass(slots=True)
class _Run:
    limits: HostLimits
    inputs: list[InputRecord] = field(default_factory=list)
    not_analysed: list[NotAnalysed] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    evtx_records: int = 0
    evtx_seconds: float = 0.0
    wanted: frozenset[int] | None = WANTED  # event ids kept; None keeps every event
    sandbox: Sandbox | None = None  # the worker of the isolated readers, started at first use

    def fail(self, path: str, reason: str, kind: str) -> None:
        self.not_analysed.append(NotAnalysed(path=path, reason=reason))
        self.inputs.append(InputRecord(path=path, kind=kind, status="not-analysed"))
        self.warnings.append(f"{path}: {reason}")

    def partly(self, path: str, whats: Sequence[str]) -> None:
        """The file was read, but a limit, its time budget or damage left ``whats`` out."""
        reason = "partly analysed: " + "; ".join(whats)
        self.not_analysed.append(NotAnalysed(path=path, reason=reason))


def _reason(exc: InputError) -> str:
    """The reason with its place in the file, without repeating the path."""
    where = exc.where[len(exc.path) :].lstrip(", ")
    return f"{where}: {exc.reason}" if where else exc.reason


MAX_HASH_BYTES = 256 << 20  # an artefact larger than this is listed without its SHA-256


def _compile_yara(user_rules: Sequence[Path]) -> Any:
    try:
        import yara
    except ImportError:
        if user_rules:
            raise UsageError("--yara needs yara-python: pip install yara-python") from None
        log.warning("yara-python not installed: YARA rules not run")
        return None
    sources = {"duqhunt": str(builtin_yara_rules())}
    for i, p in enumerate(user_rules):
        if not p.is_file():
            raise UsageError(f"--yara {p}: no such rule file")
        sources[f"user{i}_{p.stem}"] = str(p)
    try:
        return yara.compile(filepaths=sources)
    except yara.SyntaxError as exc:
        if any(str(p) in str(exc) for p in user_rules) or user_rules:
            raise UsageError(f"--yara: rules do not compile: {exc}") from exc
        raise ContentError(f"content/yara/duqu.yar: {exc}") from exc


def _load_sigma(user_rules: Sequence[Path]) -> tuple[list[SigmaQuery], list[str]]:
    """The built-in Sigma pack plus the user's rule files and folders, converted to SQL."""
    for p in user_rules:
        if not p.exists():
            raise UsageError(f"--sigma {p}: no such rule file or folder")
    files = builtin_sigma_files() + rule_files(user_rules)
    if user_rules and len(files) == len(builtin_sigma_files()):
        raise UsageError(f"--sigma: no .yml rule file in {', '.join(map(str, user_rules))}")
    try:
        return load_sigma(files)
    except ImportError as exc:
        if user_rules:
            raise UsageError(f"--sigma: {exc}") from None
        log.warning("%s: Sigma rules not run", exc)
        return [], []


# extensions that name an artefact the scan reads: a file with one that is not recognised
# (empty, or another format) is listed, never passed over in silence
_NAMED_KINDS = {".evtx": "EVTX event log", ".job": "scheduled task (.job)", ".pnf": ".PNF file"}


def _short_of_header(f: FileEntry) -> str | None:
    """Why a registry hive is shorter than its own header says, or None: a hive cut short (a
    copy interrupted, a truncated image) reads without error but misses what its header
    promises. (An EVTX file cut short is found by its reader: eventlog.evtx_shortfall.)"""
    try:
        with f.path.open("rb") as fh:
            head = fh.read(0x30)
    except OSError:
        return None
    if f.kind == "hive" and len(head) >= 0x2C and head[:4] == b"regf":
        bins = struct.unpack_from("<I", head, 0x28)[0]
        if f.size < 4096 + bins:
            return (
                f"hive is cut short: {f.size} bytes where its header declares "
                f"{4096 + bins}; keys in the missing part are not analysed"
            )
    return None


def _read_events(run: _Run, f: FileEntry, h: HostArtefacts, deadline: Deadline) -> None:
    kind = "host-evtx" if f.kind == "evtx" else "host-event-json"
    t0 = time.perf_counter()
    lim = run.limits
    try:
        if f.kind == "evtx":
            if f.size > lim.max_evtx_bytes:
                raise InputError(str(f.path), f"larger than {lim.max_evtx_bytes} bytes")
            res: EventLogRead = read_evtx(f.path, lim.max_events_per_log, run.wanted, deadline)
        else:
            res = read_event_json(
                f.path, lim.max_events_per_log, lim.max_json_bytes, run.wanted, deadline
            )
    except InputError as exc:
        run.fail(str(f.path), _reason(exc), kind)
        return
    except OSError as exc:
        run.fail(str(f.path), f"not readable: {exc.strerror or exc}", kind)
        return
    if f.kind == "evtx":
        run.evtx_records += res.records
        run.evtx_seconds += time.perf_counter() - t0
    h.events.extend(res.events)
    run.warnings.extend(res.warnings)
    partial = bool(res.skipped or res.truncated or res.damaged)
    if partial:
        whats = [f"{res.skipped} bad record(s) skipped"] if res.skipped else []
        whats += [res.damaged] if res.damaged else []
        whats += [res.stopped or "truncated at the limit"] if res.truncated else []
        run.partly(str(f.path), whats)
    run.inputs.append(
        InputRecord(
            path=str(f.path),
            kind=kind,
            sha256=digest_file(f.path, max_bytes=MAX_HASH_BYTES).sha256 or None,
            status="partial" if partial else "analysed",
            log_type="evtx" if f.kind == "evtx" else "event-json",
            rows=res.records,
            skipped_rows=res.skipped,
        )
    )


def _read_hive(run: _Run, f: FileEntry, h: HostArtefacts, deadline: Deadline) -> None:
    kind = "host-hive" if f.kind == "hive" else "host-reg-export"
    lim = run.limits
    try:
        if f.kind == "hive":
            facts, warns = read_hive_file(
                f.path,
                lim.max_hive_bytes,
                deadline,
                lim.max_subkeys_per_key,
                lim.max_values_per_key,
            )
            all_facts = [facts]
            run.warnings.extend(warns)
        else:
            all_facts = read_reg_export(f.path, lim.max_hive_bytes, deadline)
            # one note per cut, however many hives of the export it cut
            warns = list(dict.fromkeys(f"{f.path}: {n}" for x in all_facts for n in x.notes))
            run.warnings.extend(warns)
    except InputError as exc:
        run.fail(str(f.path), _reason(exc), kind)
        return
    except OSError as exc:
        run.fail(str(f.path), f"not readable: {exc.strerror or exc}", kind)
        return
    short = _short_of_header(f)
    if short:
        warns = [*warns, f"{f.path}: {short}"]
        run.warnings.append(f"{f.path}: {short}")
    if warns:
        run.partly(str(f.path), [w.removeprefix(f"{f.path}: ") for w in warns])
    for facts in all_facts:
        h.hives.append((f, facts))
        if facts.kind == "SOFTWARE":
            h.software_hive_seen = True
    rows = sum(len(x.services) + len(x.zone_values) + len(x.kbs) for x in all_facts)
    run.inputs.append(
        InputRecord(
            path=str(f.path),
            kind=kind,
            sha256=digest_file(f.path, max_bytes=MAX_HASH_BYTES).sha256 or None,
            status="partial" if warns else "analysed",
            log_type=",".join(x.kind for x in all_facts) or None,
            rows=rows,
        )
    )


def _read_file(
    run: _Run, h: HostArtefacts, f: FileEntry, deadline: Deadline, infs: set[str]
) -> list[str]:
    """Read one artefact into ``h`` and ``run``; what a limit left out of it."""
    partly: list[str] = []
    try:
        if f.kind in ("evtx", "event-json"):
            _read_events(run, f, h, deadline)
        elif f.kind in ("hive", "reg-export"):
            _read_hive(run, f, h, deadline)
        elif f.kind == "job":
            h.jobs.append((f, read_job(f.path)))
            run.inputs.append(
                InputRecord(path=str(f.path), kind="host-job", status="analysed", rows=1)
            )
        elif f.kind == "pnf":
            with f.path.open("rb") as fh:
                sample = fh.read(run.limits.entropy_sample_bytes)
            h.pnf.append(PnfInfo(f, entropy(sample), f.rel_lower()[:-4] in infs))
        elif f.kind == "pe":
            pe = read_pe(f.path, run.limits.max_pe_bytes, deadline)
            h.pe.append((f, pe))
            run.warnings.extend(pe.warnings)
            partly.extend(pe.partial)
        elif f.kind == "image":
            run.fail(
                str(f.path),
                "disk image inside a triage folder: pass it on its own",
                "host-image",
            )
        elif (named := _NAMED_KINDS.get(f.path.suffix.lower())) is not None:
            run.fail(
                str(f.path),
                "empty file (0 bytes): nothing to analyse"
                if f.size == 0
                else f"named like a {named} but not one by its content; not analysed",
                "host-unknown",
            )
    except InputError as exc:
        run.fail(str(f.path), _reason(exc), f"host-{f.kind}")
    except OSError as exc:
        run.fail(str(f.path), f"not readable: {exc.strerror or exc}", f"host-{f.kind}")
    return partly


# parsed by third-party libraries (pefile, the EVTX parser, python-registry and regipy) or in
# binary structures a hostile file controls (.job): read in a worker process under hard limits
ISOLATED_KINDS = frozenset({"pe", "evtx", "hive", "job"})


def _read_isolated(
    run: _Run, h: HostArtefacts, f: FileEntry, deadline: Deadline, infs: set[str]
) -> list[str]:
    """_read_file, in the worker for the kinds above: a reader stopped by a hard limit (a
    call that never came back to look at its budget) leaves the file not analysed with the
    reason, and the next file gets a new worker."""
    lim = run.limits
    if f.kind not in ISOLATED_KINDS or lim.hard_seconds_per_file <= 0:
        return _read_file(run, h, f, deadline, infs)
    if run.sandbox is None:
        run.sandbox = Sandbox(lim.memory_per_file)
    cpu = lim.hard_seconds_per_file
    partly, stopped = call_apart(
        run.sandbox, _read_file, (run, h), (f, deadline, infs), cpu, 2 * cpu + 60
    )
    if stopped is not None:
        run.fail(str(f.path), f"not analysed: {stopped}; its reader was stopped", f"host-{f.kind}")
        return []
    return list(partly)


def _open_image_isolated(run: _Run, path: Path, tmp: Path) -> list[Path]:
    """open_image, in the readers' worker under the hard limits of a whole image (dissect's
    volume, filesystem and registry parsers are third-party code a damaged image controls,
    with no budget of their own): an image reader stopped there leaves the image not
    analysed with the reason, and nothing it copied out is scanned. A worker of its own,
    ended with the image: what dissect keeps loaded does not count against the memory cap
    of the readers' worker."""
    lim = run.limits
    if lim.hard_seconds_per_image <= 0:
        return open_image(run, path, tmp)
    box = Sandbox(lim.memory_per_file)
    cpu = lim.hard_seconds_per_image
    try:
        outs, stopped = call_apart(box, open_image, (run,), (path, tmp), cpu, 2 * cpu + 60)
    finally:
        box.close()
    if stopped is not None:
        run.fail(str(path), f"not analysed: {stopped}; the image reader was stopped", "host-image")
        return []
    return list(outs)


def _analyse_files(run: _Run, h: HostArtefacts, files: list[FileEntry], rules: Any) -> None:
    infs = {f.rel_lower()[:-4] for f in files if f.kind == "inf"}
    for f in files:
        # every artefact has its own time budget (reader, then YARA); the readers stop at it
        # between structures and keep what they read, so the file is partly analysed
        deadline = Deadline(run.limits.seconds_per_file)
        # what a limit left out of this file (events, hives: own entry); the readers of
        # third-party formats run in a worker process under hard limits (isolation)
        partly = _read_isolated(run, h, f, deadline, infs)
        if (
            rules is not None
            and f.kind in ("pe", "pnf", "temp", "other", "job")
            and 0 < f.size <= run.limits.max_yara_bytes
        ):
            missed = _yara(run, h, f, rules, deadline)
            partly += [missed] if missed else []
        if partly:
            run.partly(str(f.path), partly)
    h.files.extend(files)


YARA_SECONDS = 30  # per file, within the file's time budget


def _yara(run: _Run, h: HostArtefacts, f: FileEntry, rules: Any, deadline: Deadline) -> str:
    """Run the rules over one file; what was not scanned ("" when all of it was)."""
    import yara

    missed = ""
    if deadline.spent():
        missed = f"{deadline.reason}: YARA rules not run"
    else:
        try:
            matches = rules.match(
                str(f.path), timeout=max(1, min(YARA_SECONDS, int(deadline.left())))
            )
        except yara.TimeoutError:
            missed = "YARA scan stopped at its time limit"
        except yara.Error as exc:
            run.warnings.append(f"{f.path}: YARA scan failed: {exc}")
            return ""
    if missed:
        run.warnings.append(f"{f.path}: {missed}")
        return missed
    for m in matches:
        strings: list[str] = []
        for s in getattr(m, "strings", []):
            ident = getattr(s, "identifier", None)
            strings.append(str(ident if ident is not None else s[1]))
        h.yara.append(
            YaraHit(
                f,
                str(m.rule),
                str(m.namespace),
                tuple(sorted(set(strings))),
                tuple(sorted((str(k), str(v)) for k, v in m.meta.items())),
            )
        )
    return ""


def _host_name(h: HostArtefacts, fallback: str) -> str:
    for _, hf in h.hives:
        if hf.computer_name:
            return hf.computer_name
    comps = Counter(e.computer for e in h.events if e.computer)
    if comps:
        return comps.most_common(1)[0][0]
    return fallback


def _t2embed(files: list[FileEntry], problems: list[WalkProblem]) -> str:
    rels = {f.rel_lower() for f in files}
    target = "windows/system32/t2embed.dll"
    if any(p.path.replace("\\", "/").lower().endswith(target) for p in problems):
        return "unreadable"
    if target in rels:
        return "present"
    if "windows/system32/ntoskrnl.exe" in rels or "windows/system32/kernel32.dll" in rels:
        return "absent"
    return "unknown"


def scan_host(
    paths: Sequence[Path],
    *,
    yara_rules: Sequence[Path] = (),
    sigma_rules: Sequence[Path] = (),
    limits: HostLimits | None = None,
    pack: Path | None = None,
    known_good: Sequence[Path] = (),
) -> AnalysisResult:
    """Scan triage folders, mounted volumes, loose artefacts and (with the extra) disk images.

    ``sigma_rules`` are Sigma rule files or folders of them, run (DQ-HOST-013) with the
    built-in pack in content/sigma over the events read. ``known_good`` files (the format of
    content/host/known-good.yaml) add to the built-in known-good service installs.

    Raises UsageError for a missing path, bad YARA rules or a missing Sigma rule path;
    everything wrong with evidence becomes a warning and a not_analysed entry, and a Sigma
    rule that does not parse or convert becomes a warning naming its file.
    """
    limits = limits or HostLimits()
    for p in paths:
        if not p.exists() and not p.is_symlink():
            raise UsageError(f"input {p} does not exist")
    rules = _compile_yara(yara_rules)
    sigma, sigma_warnings = _load_sigma(sigma_rules)
    host_pack = builtin_host_pack()
    if pack is not None:
        from duqhunt.detectors.host.content import load_host_pack

        host_pack = load_host_pack(pack)
    good = builtin_known_good()
    for kg in known_good:
        if not kg.is_file():
            raise UsageError(f"known-good list {kg} does not exist")
        good = good.merged(load_known_good(kg))
    run = _Run(limits)
    if sigma_rules:
        # user Sigma rules may look at any event id: keep every event, not only those the
        # built-in detectors read
        run.wanted = None
    run.warnings.extend(sigma_warnings)
    hosts: list[HostArtefacts] = []
    loose: list[FileEntry] = []
    t_start = time.perf_counter()
    copies: dict[str, str] = {}  # folder an image was copied to -> the image
    with tempfile.TemporaryDirectory(prefix="duqhunt-img-") as tmpdir:
        roots: list[Path] = []
        for p in paths:
            if p.is_dir():
                roots.append(p)
                continue
            why = special_file(p)
            if why is not None:
                run.fail(str(p), why, "host-unknown")
                continue
            try:
                entry = single_file(p)
            except OSError as exc:
                run.fail(str(p), f"not readable: {exc.strerror or exc}", "host-unknown")
                continue
            if entry.kind == "image":
                outs = _open_image_isolated(run, p, Path(tmpdir))
                copies.update((str(o), str(p)) for o in outs)
                roots.extend(outs)
            elif entry.kind == "other":
                run.fail(
                    str(p),
                    "not a recognised host artefact (hive, .reg, EVTX, event JSON, .job, .pnf, PE)",
                    "host-unknown",
                )
            else:
                loose.append(entry)
        for root in roots:
            files, problems = walk_triage(root, limits)
            for pr in problems:
                run.not_analysed.append(NotAnalysed(path=pr.path, reason=pr.reason))
                run.warnings.append(f"{pr.path}: {pr.reason}")
            h = HostArtefacts(host=root.name, root=str(root))
            h.t2embed = _t2embed(files, problems)
            _analyse_files(run, h, files, rules)
            h.host = _host_name(h, root.resolve().name)
            if not files:
                if not problems:
                    run.not_analysed.append(
                        NotAnalysed(path=str(root), reason="no files in the folder")
                    )
                run.inputs.append(
                    InputRecord(path=str(root), kind="host-triage", status="not-analysed")
                )
            else:
                run.inputs.append(
                    InputRecord(
                        path=str(root), kind="host-triage", status="analysed", rows=len(files)
                    )
                )
            hosts.append(h)
        if loose:
            h = HostArtefacts(host="", root="")
            _analyse_files(run, h, loose, rules)
            # every loose artefact is an input of the report: analysed, partly (a warning
            # or not-analysed entry names it) or not at all (a failure already recorded it)
            recorded = {i.path for i in run.inputs}
            noted = {n.path for n in run.not_analysed}
            for f in loose:
                if str(f.path) not in recorded:
                    status: Literal["analysed", "partial"] = (
                        "partial" if str(f.path) in noted else "analysed"
                    )
                    run.inputs.append(
                        InputRecord(path=str(f.path), kind=f"host-{f.kind}", status=status)
                    )
            h.host = _host_name(h, loose[0].path.parent.name or "unknown")
            hosts.append(h)
        if run.sandbox is not None:  # every artefact is read: the readers' worker ends
            run.sandbox.close()
        ctx = HostContext(
            tuple(hosts), host_pack, builtin_cert_pack(), time.time(), tuple(sigma), good
        )
        # hostile artefacts parse into odd values: such an error costs one detector's findings
        detected = run_detectors(
            host_detectors(), ctx, (ValueError, KeyError, TypeError, IndexError)
        )
        run.warnings.extend(detected.warnings)
        run.not_analysed.extend(detected.not_analysed)
    findings = most_severe_first(detected.findings)
    stats: list[tuple[str, int | float | str]] = [
        ("host_scan_seconds", round(time.perf_counter() - t_start, 3)),
        ("host_evtx_records", run.evtx_records),
        ("host_evtx_seconds", round(run.evtx_seconds, 3)),
        ("host_files", sum(len(h.files) for h in hosts)),
        ("host_count", len(hosts)),
    ]
    result = AnalysisResult(
        "host",
        findings=tuple(findings),
        inputs=tuple(run.inputs),
        not_analysed=tuple(run.not_analysed),
        warnings=tuple(run.warnings),
        timeline=tuple(timeline(hosts, findings)),
        stats=tuple(stats),
        sightings=tuple(artefact_sightings(hosts)),
    )
    return unmap_image_paths(result, copies)


def host_report(result: AnalysisResult, started: str, finished: str) -> ReportDocument:
    """The report document of ``duqhunt host``."""
    return build_report([result], started=started, finished=finished, engine="host")


def _bench(paths: list[Path]) -> None:  # pragma: no cover - a manual benchmark
    import evtx

    evtx_files = [p for p in paths if special_file(p) is None and p.read_bytes()[:8] == EVTX_MAGIC]
    for p in paths:
        if p.is_dir():
            evtx_files += sorted(q for q in p.rglob("*.evtx") if q.is_file())
    n = 0
    t0 = time.perf_counter()
    for p in evtx_files:
        for _ in evtx.PyEvtxParser(str(p)).records_json():
            n += 1
    raw = time.perf_counter() - t0
    m = 0
    t0 = time.perf_counter()
    for p in evtx_files:
        m += read_evtx(p, 10**9).records
    ours = time.perf_counter() - t0
    print(f"evtx package records_json: {n} records in {raw:.3f}s = {n / max(raw, 1e-9):,.0f}/s")
    print(f"duqhunt read_evtx:         {m} records in {ours:.3f}s = {m / max(ours, 1e-9):,.0f}/s")
    t0 = time.perf_counter()
    res = scan_host(paths)
    print(
        f"scan_host: {time.perf_counter() - t0:.3f}s, {len(res.findings)} findings, stats {dict(res.stats)}"
    )


if __name__ == "__main__":  # pragma: no cover
    import sys

    logging.basicConfig(level=logging.WARNING)
    args = sys.argv[1:]
    if not args or args[0] != "--bench":
        print("usage: python -m duqhunt.hostscan --bench PATH...", file=sys.stderr)
        raise SystemExit(2)
    _bench([Path(a) for a in args[1:]])
