"""Scan documents and fonts: files or folders in, findings and a verdict per file out.

``scan_documents`` is what ``duqhunt scan`` runs. Every file is analysed in isolation (in a
worker process whose address space and CPU time per file are capped, one job or many) with
limits on size, decompression, nesting, objects and time; a
file that cannot be parsed becomes a finding, a warning and a not_analysed entry, never a crash.
Nothing is executed or rendered; ``extract_dir`` receives decoded fonts and embedded objects
under sanitised names and never outside the folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import multiprocessing
import os
import re
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from duqhunt.analysis import AnalysisResult, most_severe_first
from duqhunt.detectors.doc.catalogue import STRUCTURAL_IDS, Emitter
from duqhunt.detectors.doc.containers import Walker, sniff
from duqhunt.detectors.doc.parsergate import preload
from duqhunt.errors import InputError, UsageError
from duqhunt.isolation import Outcome, run_all
from duqhunt.model import Finding, severity_rank
from duqhunt.model.finding import Severity
from duqhunt.model.report import FileVerdictModel, InputRecord, NotAnalysed
from duqhunt.safety import special_file
from duqhunt.sources.office.cff import clear_memo as clear_memos
from duqhunt.sources.office.limits import Budget, DocContent, DocLimits, builtin_content

log = logging.getLogger(__name__)

# "partial": part of the file could not be opened (nested deeper than the limit), so it is
# never called clean
Verdict = Literal[
    "clean", "suspicious", "malicious", "malformed", "partial", "encrypted", "unsupported"
]
DOC_EXTENSIONS = frozenset(
    [
        ".doc",
        ".dot",
        ".docx",
        ".docm",
        ".dotx",
        ".dotm",
        ".xls",
        ".xlt",
        ".xla",
        ".xlsx",
        ".xlsm",
        ".xlsb",
        ".xltx",
        ".xltm",
        ".xlam",
        ".ppt",
        ".pps",
        ".pot",
        ".pptx",
        ".pptm",
        ".ppsx",
        ".ppsm",
        ".potx",
        ".potm",
        ".rtf",
        ".ttf",
        ".otf",
        ".ttc",
        ".eot",
        ".woff",
        ".woff2",
        ".odttf",
        ".fntdata",
        ".zip",
        ".pfa",
        ".pfb",
        ".xml",
        ".csv",
        ".slk",
        ".msg",
        ".dfont",
        ".cff",
    ]
)
MAX_INPUT_FILES = 100_000
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class FileVerdict:
    path: str
    verdict: Verdict
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _FileResult:
    path: str
    kind: str
    sha256: str | None
    findings: tuple[Finding, ...]
    verdict: FileVerdict
    not_analysed: str | None
    warnings: tuple[str, ...]
    size: int
    seconds: float


def is_document(path: Path) -> bool:
    """True if the file looks like something scan handles (by content, then by extension)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return sniff(head, path.name) != "unknown" or path.suffix.lower() in DOC_EXTENSIONS


def collect(paths: Iterable[Path]) -> list[Path]:
    """The regular files under ``paths`` (see collect_all for what is left out and why)."""
    return collect_all(paths)[0]


def collect_all(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Regular files under ``paths``, and (path, reason) for what was found but not opened:
    FIFOs, sockets and devices (a reader would block or never end), folders that cannot be
    read, symlinks not followed."""
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []

    def unreadable(exc: OSError) -> None:
        skipped.append((str(exc.filename), f"folder not readable: {exc.strerror or exc}"))

    for root in paths:
        if not root.exists():
            raise UsageError(f"input {root} does not exist")
        if not root.is_dir():
            why = special_file(root)
            if why is None:
                files.append(root)
            else:
                skipped.append((str(root), why))
            continue
        base = root.resolve()
        before = len(files) + len(skipped)
        for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
            dirnames.sort()
            for d in dirnames:
                if (Path(dirpath) / d).is_symlink():
                    skipped.append((str(Path(dirpath) / d), "symlink to a folder, not followed"))
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
                why = special_file(p)
                if why is not None:
                    skipped.append((str(p), why))
                    continue
                files.append(p)
                if len(files) > MAX_INPUT_FILES:
                    raise UsageError(f"more than {MAX_INPUT_FILES} files under {root}")
        if len(files) + len(skipped) == before:
            skipped.append((str(root), "no files in the folder"))
    return files, skipped


def verdict_for(
    findings: Sequence[Finding],
    *,
    encrypted: bool,
    unsupported: str,
    malformed: str,
    partial: str = "",
) -> tuple[Verdict, tuple[str, ...]]:
    top = max((severity_rank(f.severity) for f in findings), default=-1)
    ranked = sorted(findings, key=lambda f: (-severity_rank(f.severity), f.detector))
    reasons = tuple(
        f"{f.severity}: {f.evidence[0].summary if f.evidence else f.title}"[:200]
        for f in ranked[:3]
        if f.severity != "info"
    )
    if unsupported and not findings:
        return "unsupported", (unsupported,)
    if top >= severity_rank("high"):
        return "malicious", reasons
    structural = [
        f for f in findings if f.detector in STRUCTURAL_IDS and severity_rank(f.severity) >= 2
    ]
    if structural or malformed:
        return "malformed", reasons or (malformed,)
    if top >= severity_rank("medium"):
        return "suspicious", reasons
    if partial:
        return "partial", (partial,)
    if encrypted:
        return "encrypted", ("encrypted: contents not analysed",)
    return "clean", reasons


class _Extractor:
    def __init__(self, root: Path, input_path: Path, sha: str) -> None:
        self.root = root.resolve()
        self.dir = self.root / f"{_SAFE.sub('_', input_path.name)[:60]}-{sha[:12]}"
        self.count = 0

    def __call__(self, name: str, data: bytes) -> None:
        self.count += 1
        if self.count > 500:
            return
        leaf = _SAFE.sub("_", name.replace("\\", "/").split("/")[-1].split(",")[0])[:80] or "object"
        target = (self.dir / f"{self.count:03d}-{leaf}.bin").resolve()
        target.relative_to(self.root)  # never outside DIR (raises ValueError)
        self.dir.mkdir(parents=True, exist_ok=True)
        # exclusive create, no execute bits; content is written as data only
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)


def scan_file(
    path: Path,
    content: DocContent | None = None,
    extract_dir: Path | None = None,
    yara_rules: Any = None,
) -> _FileResult:
    """Analyse one file; never raises for bad input."""
    content = content or builtin_content()
    lim = content.limits
    t0 = time.perf_counter()
    src = str(path)
    warnings: list[str] = []
    try:
        size = path.stat().st_size
        if size > lim.max_file_bytes:
            reason = f"file of {size} bytes exceeds the {lim.max_file_bytes}-byte limit"
            v = FileVerdict(src, "unsupported", (reason,))
            return _FileResult(
                src, "unknown", None, (), v, reason, (f"{src}: {reason}",), size, 0.0
            )
        data = path.read_bytes()
    except OSError as exc:
        reason = f"cannot read: {exc}"
        return _FileResult(
            src,
            "unknown",
            None,
            (),
            FileVerdict(src, "unsupported", (reason,)),
            reason,
            (f"{src}: {reason}",),
            0,
            0.0,
        )
    sha = hashlib.sha256(data).hexdigest()
    # the file's identity (finding ids) is the hash of the bytes read, hashed once
    em = Emitter(src, max_findings=lim.max_findings_per_file, identity=f"sha256:{sha}")
    budget = Budget(src, lim)
    extractor = _Extractor(extract_dir, path, sha) if extract_dir is not None else None
    walker = Walker(path, em, content, budget, extractor)
    not_analysed: str | None = None
    failed = ""  # the analysis stopped on a parser error: never called clean
    try:
        walker.analyse(data, path.name)
    except InputError as exc:  # budget/time limits propagate here
        walker.malformed(path.name, exc)
        not_analysed = f"partly analysed: {exc.reason}"
    except MemoryError:
        # past the worker's address-space cap inside a parser: what was found is kept
        not_analysed = f"partly analysed: {out_of_memory(lim)}"
        failed = not_analysed
        warnings.append(f"{src}: {not_analysed}")
    except (
        RecursionError,
        ValueError,
        IndexError,
        KeyError,
        TypeError,
        AttributeError,
        OSError,
    ) as exc:
        # Last line of defence: a parser bug must not stop the run.
        log.exception("%s: analysis failed", src)
        not_analysed = f"analysis failed: {type(exc).__name__}: {exc}"
        failed = not_analysed
        warnings.append(f"{src}: {not_analysed}")
    out = walker.out
    if yara_rules is not None:
        _yara(yara_rules, data, em, path.name)
    if em.dropped:
        warnings.append(
            f"{src}: {em.dropped} further finding(s) dropped (limit {lim.max_findings_per_file})"
        )
    if out.unsupported:
        not_analysed = out.unsupported
    elif out.encrypted and not out.fonts:
        not_analysed = not_analysed or "encrypted: contents not analysed"
    elif out.malformed and not not_analysed:
        not_analysed = f"partly analysed: {out.malformed}"
    elif out.partial and not not_analysed:
        not_analysed = f"partly analysed: {out.partial}"
    verdict, reasons = verdict_for(
        em.findings,
        encrypted=out.encrypted,
        unsupported=out.unsupported,
        malformed=out.malformed,
        partial=out.partial or failed,
    )
    return _FileResult(
        src,
        out.kind,
        sha,
        tuple(em.findings),
        FileVerdict(src, verdict, reasons),
        not_analysed,
        tuple(warnings),
        len(data),
        time.perf_counter() - t0,
    )


def _yara(rules: Any, data: bytes, em: Emitter, where: str) -> None:
    from duqhunt.detectors.doc.catalogue import YaraMatch

    try:
        matches = rules.match(data=data, timeout=10)
    except Exception as exc:
        em.emit(YaraMatch, "info", where, f"YARA scan failed: {exc}", key="yara-err")
        return
    for m in matches:
        meta = getattr(m, "meta", {}) or {}
        raw = str(meta.get("severity", "medium"))
        sev: Severity = raw if raw in ("info", "low", "medium", "high", "critical") else "medium"  # type: ignore[assignment]
        em.emit(
            YaraMatch,
            sev,
            where,
            f"YARA rule {m.rule} matched",
            key=f"yara{m.rule}",
            title=f"YARA: {m.rule}",
        )


def _compile_yara(paths: Sequence[Path]) -> Any:
    if not paths:
        return None
    try:
        import yara
    except ImportError:
        raise UsageError("--yara needs the yara-python package (pip install yara-python)") from None
    try:
        return yara.compile(filepaths={f"r{i}": str(p) for i, p in enumerate(paths)})
    except Exception as exc:
        raise UsageError(f"--yara: rules do not compile: {exc}") from None


_WORKER_RULES: tuple[tuple[str, ...], Any] | None = None  # in a worker: (rule files, compiled)
# Tests only (with DUQHUNT_TEST set): a worker that starts a file of this name kills itself
# with SIGKILL, as the kernel's out-of-memory killer or a crash in a C extension would
_TEST_KILL_ON = "DUQHUNT_TEST_KILL_WORKER_ON"
DIED = (
    "not analysed: the analyser died (its worker process was killed or crashed, e.g. out of "
    "memory or a fault in a parser library); the other files were analysed"
)


def _work(p: str, ex: str | None, rule_paths: tuple[str, ...], limits: DocLimits) -> _FileResult:
    """One file, in a worker process (see scan_documents); the YARA rules are compiled once
    per worker, at its first file."""
    global _WORKER_RULES
    if _WORKER_RULES is None or _WORKER_RULES[0] != rule_paths:
        for name in ("olevba", "oletools", "olefile", "fontTools", "msodde", "rtfobj", "oleobj"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        rules = _compile_yara([Path(r) for r in rule_paths]) if rule_paths else None
        _WORKER_RULES = (rule_paths, rules)
    if (
        os.environ.get("DUQHUNT_TEST")
        and os.environ.get(_TEST_KILL_ON) == Path(p).name
        and multiprocessing.parent_process() is not None
    ):
        os.kill(os.getpid(), signal.SIGKILL)
    content = builtin_content()
    if content.limits != limits:
        content = dataclasses.replace(content, limits=limits)
    try:
        return scan_file(Path(p), content, Path(ex) if ex else None, _WORKER_RULES[1])
    except MemoryError:  # past the worker's cap outside the parsers (reading the file, YARA)
        return _stopped(p, f"not analysed: {out_of_memory(limits)}")


def out_of_memory(limits: DocLimits) -> str:
    """The reason of a file whose analysis passed the memory cap of its worker."""
    cap = limits.worker_memory_bytes
    return f"exceeded the memory limit of {cap >> 20} MiB of one file; its analysis was stopped"


def _settled(path: str, out: Outcome, limits: DocLimits) -> _FileResult:
    """The result of one file from what its worker gave: its result, or why it has none."""
    if out.stopped is None and out.error is None:
        result: _FileResult = out.value
        return result
    if out.error is not None:  # a parser bug past scan_file's own net costs this file only
        reason = f"analysis failed: {type(out.error).__name__}: {out.error}"
    elif out.cause in ("cpu", "wall"):
        reason = f"not analysed: {out.stopped}; its analysis was stopped"
    elif out.cause == "memory":
        reason = f"not analysed: {out_of_memory(limits)}"
    else:
        reason = DIED
    log.warning("%s: %s", path, reason)
    return _stopped(path, reason)


def _stopped(path: str, reason: str) -> _FileResult:
    """A file whose analysis was stopped before it gave a result: nothing of it is known."""
    return _FileResult(
        path,
        "unknown",
        None,
        (),
        FileVerdict(path, "unsupported", (reason,)),
        reason,
        (f"{path}: {reason}",),
        0,
        0.0,
    )


def scan_documents(
    paths: Sequence[Path],
    *,
    yara_rules: Sequence[Path] = (),
    jobs: int | None = None,
    extract_dir: Path | None = None,
    limits: DocLimits | None = None,
) -> AnalysisResult:
    """Scan files and folders (recursively). Bad options raise UsageError; bad files do not.

    Files are analysed in ``jobs`` worker processes (at most one per file), one file at a
    time each, under the hard limits of duqhunt.isolation: an address space capped at
    ``limits.worker_memory_bytes`` more than at the worker's start, and
    ``limits.hard_seconds_per_file`` of CPU time per file (wall clock: twice that and a
    minute). A worker stopped by a limit or killed (out of memory, a crash in a C extension)
    costs only its file, which is not analysed with the reason; the next file gets a new
    worker. ``limits`` defaults to those of the built-in content."""
    files, skipped = collect_all(paths)
    if jobs is not None and jobs < 1:
        raise UsageError("--jobs must be at least 1")
    lim = limits or builtin_content().limits
    rule_paths = tuple(str(p) for p in yara_rules)
    _compile_yara(list(yara_rules))  # fail early on bad rules
    if extract_dir is not None:
        extract_dir.mkdir(parents=True, exist_ok=True)
    n = jobs or os.cpu_count() or 1
    clear_memos()  # per-scan memos start empty (forked workers inherit them empty)
    t0 = time.perf_counter()
    args = [(str(f), str(extract_dir) if extract_dir else None) for f in files]
    results: list[_FileResult] = []
    if args:
        # Always in worker processes, even one file with one job: only there is the address
        # space capped (a parser library inflating a hostile part stops at the cap, not at the
        # machine's memory) and a dead parser costs only its file. Workers are forked: what
        # is loaded here first (the built-in content, the libraries the walk imports lazily)
        # is not loaded again by every worker of every scan.
        builtin_content()
        preload()
        cpu = lim.hard_seconds_per_file
        outcomes = run_all(
            _work,
            [(p, ex, rule_paths, lim) for p, ex in args],
            min(n, len(args)),
            lim.worker_memory_bytes,
            cpu,
            2 * cpu + 60 if cpu > 0 else None,
        )
        results = [_settled(a[0], o, lim) for a, o in zip(args, outcomes, strict=True)]
    elapsed = time.perf_counter() - t0
    findings: list[Finding] = []
    inputs: list[InputRecord] = []
    not_analysed: list[NotAnalysed] = []
    warnings: list[str] = []
    verdicts: list[FileVerdict] = []
    for path_s, why in skipped:
        not_analysed.append(NotAnalysed(path=path_s, reason=why))
        inputs.append(InputRecord(path=path_s, kind="unknown", status="not-analysed"))
        warnings.append(f"{path_s}: {why}")
    for r in results:
        findings.extend(r.findings)
        status: Literal["analysed", "partial", "not-analysed"] = "analysed"
        if r.not_analysed:
            status = (
                "not-analysed" if r.verdict.verdict in ("unsupported", "encrypted") else "partial"
            )
            not_analysed.append(NotAnalysed(path=r.path, reason=r.not_analysed))
        inputs.append(
            InputRecord(
                path=r.path,
                kind=f"doc-{r.kind}",
                sha256=r.sha256,
                status=status,
                rows=len(r.findings),
            )
        )
        warnings.extend(r.warnings)
        verdicts.append(r.verdict)
    total = sum(r.size for r in results)
    stats: tuple[tuple[str, int | float | str], ...] = (
        ("files", len(results)),
        ("bytes", total),
        ("seconds", round(elapsed, 3)),
        ("files_per_second", round(len(results) / elapsed, 1) if elapsed else 0.0),
        ("mb_per_second", round(total / 1e6 / elapsed, 2) if elapsed else 0.0),
    )
    return AnalysisResult(
        "document",
        findings=tuple(most_severe_first(findings)),
        inputs=tuple(inputs),
        not_analysed=tuple(not_analysed),
        warnings=tuple(warnings),
        stats=stats,
        verdicts=tuple(
            FileVerdictModel(path=v.path, verdict=v.verdict, reasons=list(v.reasons))
            for v in verdicts
        ),
    )
