"""Reading one host's artefacts: each file a triage walk found or the user named becomes facts
in a ``HostArtefacts`` (events, hives, tasks, PE files, PNF samples, YARA hits) and entries in
the run's inputs, warnings and not-analysed list, which the host scan's detectors and report
read.

Every file has a cooperative time budget (safety.Deadline) that its reader, then YARA, stop at
between structures; the readers of third-party formats and of binary structures a hostile file
controls (PE, EVTX, hives, .job) run in a worker process under hard limits (isolation.py), as
does opening a disk image (hostimage.py), since the budget cannot stop a call inside a parser
library that never returns to look at it. Fail soft per artefact: a corrupt hive, an EVTX with
a bad chunk, an unreadable file or a reader stopped at a hard limit becomes a warning and a
``not_analysed`` entry. Nothing is executed.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from duqhunt.detectors.host.base import HostArtefacts, PnfInfo, YaraHit
from duqhunt.detectors.host.content import builtin_yara_rules
from duqhunt.errors import ContentError, InputError, UsageError
from duqhunt.hostimage import open_image
from duqhunt.isolation import Sandbox, call_apart
from duqhunt.model.report import InputRecord, NotAnalysed
from duqhunt.safety import Deadline, digest_file
from duqhunt.sources.host.eventlog import WANTED, EventLogRead, read_event_json, read_evtx
from duqhunt.sources.host.jobfile import read_job
from duqhunt.sources.host.pe import entropy, read_pe
from duqhunt.sources.host.registry import read_hive_file, read_reg_export
from duqhunt.sources.host.walk import FileEntry, HostLimits

log = logging.getLogger(__name__)

__all__ = [
    "ISOLATED_KINDS",
    "MAX_HASH_BYTES",
    "YARA_SECONDS",
    "Run",
    "analyse_files",
    "compile_yara",
    "open_image_isolated",
]


@dataclass(slots=True)
class Run:
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

    def fail_read(self, path: str, exc: InputError | OSError, kind: str) -> None:
        """A file its reader refused (the reason with its place in the file) or could not read."""
        reason = (
            _reason(exc) if isinstance(exc, InputError) else f"not readable: {exc.strerror or exc}"
        )
        self.fail(path, reason, kind)

    def partly(self, path: str, whats: Sequence[str]) -> None:
        """The file was read, but a limit, its time budget or damage left ``whats`` out."""
        reason = "partly analysed: " + "; ".join(whats)
        self.not_analysed.append(NotAnalysed(path=path, reason=reason))

    def read(
        self,
        path: Path,
        kind: str,
        whats: Sequence[str],
        log_type: str | None,
        rows: int,
        skipped_rows: int = 0,
    ) -> None:
        """A file its reader read: an input with its SHA-256, "partial" (and a not-analysed
        entry saying what, see ``partly``) when ``whats`` names what was left out."""
        if whats:
            self.partly(str(path), whats)
        self.inputs.append(
            InputRecord(
                path=str(path),
                kind=kind,
                sha256=digest_file(path, max_bytes=MAX_HASH_BYTES).sha256 or None,
                status="partial" if whats else "analysed",
                log_type=log_type,
                rows=rows,
                skipped_rows=skipped_rows,
            )
        )


def _reason(exc: InputError) -> str:
    """The reason with its place in the file, without repeating the path."""
    where = exc.where[len(exc.path) :].lstrip(", ")
    return f"{where}: {exc.reason}" if where else exc.reason


MAX_HASH_BYTES = 256 << 20  # an artefact larger than this is listed without its SHA-256


def compile_yara(user_rules: Sequence[Path]) -> Any:
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


def _read_events(run: Run, f: FileEntry, h: HostArtefacts, deadline: Deadline) -> None:
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
    except (InputError, OSError) as exc:
        run.fail_read(str(f.path), exc, kind)
        return
    if f.kind == "evtx":
        run.evtx_records += res.records
        run.evtx_seconds += time.perf_counter() - t0
    h.events.extend(res.events)
    run.warnings.extend(res.warnings)
    whats = [f"{res.skipped} bad record(s) skipped"] if res.skipped else []
    whats += [res.damaged] if res.damaged else []
    whats += [res.stopped or "truncated at the limit"] if res.truncated else []
    log_type = "evtx" if f.kind == "evtx" else "event-json"
    run.read(f.path, kind, whats, log_type, res.records, res.skipped)


def _read_hive(run: Run, f: FileEntry, h: HostArtefacts, deadline: Deadline) -> None:
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
    except (InputError, OSError) as exc:
        run.fail_read(str(f.path), exc, kind)
        return
    short = _short_of_header(f)
    if short:
        warns = [*warns, f"{f.path}: {short}"]
        run.warnings.append(f"{f.path}: {short}")
    for facts in all_facts:
        h.hives.append((f, facts))
        if facts.kind == "SOFTWARE":
            h.software_hive_seen = True
    rows = sum(len(x.services) + len(x.zone_values) + len(x.kbs) for x in all_facts)
    whats = [w.removeprefix(f"{f.path}: ") for w in warns]
    run.read(f.path, kind, whats, ",".join(x.kind for x in all_facts) or None, rows)


def _read_file(
    run: Run, h: HostArtefacts, f: FileEntry, deadline: Deadline, infs: set[str]
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
    except (InputError, OSError) as exc:
        run.fail_read(str(f.path), exc, f"host-{f.kind}")
    return partly


# parsed by third-party libraries (pefile, the EVTX parser, python-registry and regipy) or in
# binary structures a hostile file controls (.job): read in a worker process under hard limits
ISOLATED_KINDS = frozenset({"pe", "evtx", "hive", "job"})


def _read_isolated(
    run: Run, h: HostArtefacts, f: FileEntry, deadline: Deadline, infs: set[str]
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


def open_image_isolated(run: Run, path: Path, tmp: Path) -> list[Path]:
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


def analyse_files(run: Run, h: HostArtefacts, files: list[FileEntry], rules: Any) -> None:
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


def _yara(run: Run, h: HostArtefacts, f: FileEntry, rules: Any, deadline: Deadline) -> str:
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
