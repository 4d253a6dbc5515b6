"""Host triage: the implant's traces and the spread, from what responders collect.

``scan_host(paths)`` reads triage folders (or mounted volumes laid out like a Windows volume)
and loose artefacts (SYSTEM/SOFTWARE/NTUSER hives and .reg exports, *.evtx and JSON event
exports, *.job, drivers and other PE files, .pnf files), runs the host detectors (DQ-HOST-nnn)
and returns findings, the inputs, what was not analysed and a host timeline. Raw/E01/VMDK
images are opened through dissect.target when the optional ``image`` extra is installed
(AGPL-3.0, never a core dependency; see hostimage.py), in a worker process under the hard
limits of one image (``HostLimits.hard_seconds_per_image``, ``memory_per_file``).

This module is the scan's driver: it checks the options and loads the rule content, routes
each path (a folder or an image's copied-out volumes to walk as one host, a loose artefact,
or a not-analysed entry), names each host, runs the detectors and builds the result. Reading
the files is hostread.py; the timeline is hosttimeline.py.

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
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from duqhunt.analysis import AnalysisResult, build_report, most_severe_first
from duqhunt.campaign.sightings import artefact_sightings
from duqhunt.detectors.contract import run_detectors
from duqhunt.detectors.host import host_detectors
from duqhunt.detectors.host.base import HostArtefacts, HostContext
from duqhunt.detectors.host.content import (
    builtin_cert_pack,
    builtin_host_pack,
    builtin_known_good,
    load_known_good,
)
from duqhunt.detectors.host.sigma import SigmaQuery, builtin_sigma_files, load_sigma, rule_files
from duqhunt.errors import UsageError
from duqhunt.hostimage import unmap_image_paths
from duqhunt.hostread import Run, analyse_files, compile_yara, open_image_isolated
from duqhunt.hosttimeline import timeline
from duqhunt.model.report import InputRecord, NotAnalysed, ReportDocument
from duqhunt.safety import special_file
from duqhunt.sources.host.eventlog import read_evtx
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
    rules = compile_yara(yara_rules)
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
    run = Run(limits)
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
                outs = open_image_isolated(run, p, Path(tmpdir))
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
            analyse_files(run, h, files, rules)
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
            analyse_files(run, h, loose, rules)
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
