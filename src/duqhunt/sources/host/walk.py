"""Walk a triage folder (or a mounted volume) and classify the artefacts in it.

Symbolic links are never followed into folders (no loops, nothing out of the root); a linked
file is read only when its target lies inside the root. Unreadable folders and files are
reported, not raised.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from duqhunt.safety import special_file
from duqhunt.sources.host.registry import MAX_SUBKEYS, MAX_VALUES

HIVE_NAMES = frozenset({"system", "software", "ntuser.dat", "sam", "security", "usrclass.dat"})
PE_SUFFIXES = frozenset({".sys", ".dll", ".exe", ".ocx", ".drv", ".cpl", ".scr"})
IMAGE_SUFFIXES = frozenset({".e01", ".vmdk", ".raw", ".dd", ".img", ".vhd", ".vhdx", ".qcow2"})
EVTX_MAGIC = b"ElfFile\x00"
REGF_MAGIC = b"regf"


@dataclass(frozen=True, slots=True)
class HostLimits:
    """Limits on hostile input. Files above a size limit are skipped with a reason; a file
    whose reading a work limit or its time budget cut short is partly analysed, with the
    reason."""

    max_files: int = 200_000
    max_depth: int = 48
    max_hive_bytes: int = 512 << 20
    max_evtx_bytes: int = 1 << 30
    max_events_per_log: int = 5_000_000
    max_pe_bytes: int = 64 << 20
    max_yara_bytes: int = 64 << 20
    max_json_bytes: int = 256 << 20
    entropy_sample_bytes: int = 1 << 20
    # time budget of one artefact (its reader, then YARA): a large but sound Security.evtx
    # reads in about a minute
    seconds_per_file: float = 300.0
    # hard limits of one artefact's reader (PE, EVTX, hive, .job), enforced by running it in
    # a worker process: CPU seconds (wall-clock: twice that and a minute), then it is killed
    # wherever it is and the file is not analysed; 0 reads in this process, cooperatively only.
    # Above seconds_per_file, so that the budget, which keeps what was read, normally ends it
    hard_seconds_per_file: float = 600.0
    memory_per_file: int = 4 << 30  # address space the worker may add to what it starts with
    # CPU seconds of copying the artefacts out of one disk image (dissect.target opens the
    # image and walks its volume in the same worker, under memory_per_file; wall clock:
    # twice that and a minute); 0 opens images in this process. An image is many files
    hard_seconds_per_image: float = 3600.0
    max_subkeys_per_key: int = MAX_SUBKEYS
    max_values_per_key: int = MAX_VALUES


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a triage folder. ``rel`` is the path inside the root, '/'-separated."""

    path: Path
    rel: str
    size: int
    mtime: float
    kind: str  # hive, reg-export, evtx, event-json, job, pnf, inf, pe, temp, image, other

    @property
    def name(self) -> str:
        return PurePosixPath(self.rel).name

    def rel_lower(self) -> str:
        return self.rel.lower()


@dataclass(frozen=True, slots=True)
class WalkProblem:
    path: str
    reason: str


def _head(path: Path, n: int = 64) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def classify(path: Path, head: bytes | None = None) -> str:
    """What kind of host artefact a file is, from its name and first bytes."""
    name = path.name.lower()
    suffix = path.suffix.lower()
    if head is None:
        try:
            head = _head(path)
        except OSError:
            head = b""
    if head.startswith(EVTX_MAGIC):
        return "evtx"
    if head.startswith(REGF_MAGIC):
        return "hive"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix == ".reg":
        return "reg-export"
    if suffix == ".job" and len(head) >= 64:
        return "job"
    if suffix == ".pnf":
        return "pnf"
    if suffix == ".inf":
        return "inf"
    if fnmatch.fnmatch(name, "~d[qf]*.tmp"):
        return "temp"
    if head.startswith(b"MZ"):
        return "pe"
    if suffix in (".json", ".jsonl", ".ndjson"):
        if len(head) >= 64 and b'"EventID"' not in head:
            # a shipper's flat record (nxlog, Logstash) names EventID after its own fields
            with contextlib.suppress(OSError):
                head = _head(path, 4096)
        if _looks_like_event_json(head):
            return "event-json"
    if name in HIVE_NAMES:
        return "hive"
    return "other"


def _looks_like_event_json(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n[")
    return text.startswith(b"{") and (b'"EventID"' in head or b'"Event"' in head)


def _inside(target: Path, base: Path) -> bool:
    try:
        target.relative_to(base)
    except ValueError:
        return False
    return True


def walk_triage(root: Path, limits: HostLimits) -> tuple[list[FileEntry], list[WalkProblem]]:
    """Every regular file under ``root`` (sorted), classified; problems are reported, not raised."""
    files: list[FileEntry] = []
    problems: list[WalkProblem] = []
    base = root.resolve()
    seen_dirs: set[tuple[int, int]] = set()

    def visit(folder: Path, depth: int) -> None:
        if depth > limits.max_depth:
            problems.append(WalkProblem(str(folder), f"deeper than {limits.max_depth} folders"))
            return
        try:
            st = folder.stat()
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                problems.append(WalkProblem(str(folder), "folder loop, not followed"))
                return
            seen_dirs.add(key)
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            problems.append(WalkProblem(str(folder), f"folder not readable: {exc.strerror or exc}"))
            return
        for entry in entries:
            if len(files) >= limits.max_files:
                problems.append(WalkProblem(str(root), f"more than {limits.max_files} files"))
                return
            p = Path(entry.path)
            try:
                if entry.is_symlink():
                    try:
                        target = p.resolve(strict=True)
                    except (OSError, RuntimeError):
                        problems.append(WalkProblem(str(p), "broken or looping symlink, skipped"))
                        continue
                    if not _inside(target, base):
                        problems.append(WalkProblem(str(p), f"symlink out of {root}, not followed"))
                        continue
                    if target.is_dir():
                        problems.append(WalkProblem(str(p), "symlink to a folder, not followed"))
                        continue
                if entry.is_dir(follow_symlinks=False):
                    visit(p, depth + 1)
                    continue
                st = p.stat()
                if not stat.S_ISREG(st.st_mode):
                    problems.append(WalkProblem(str(p), special_file(p) or "not a regular file"))
                    continue
                rel = p.relative_to(root).as_posix()
                try:
                    head = _head(p)
                except OSError as exc:
                    problems.append(WalkProblem(str(p), f"not readable: {exc.strerror or exc}"))
                    continue
                files.append(FileEntry(p, rel, st.st_size, st.st_mtime, classify(p, head)))
            except OSError as exc:
                problems.append(WalkProblem(str(p), f"not readable: {exc.strerror or exc}"))

    visit(root, 0)
    return files, problems


def single_file(path: Path) -> FileEntry:
    """A loose artefact given directly (not inside a triage folder)."""
    st = path.stat()
    return FileEntry(path, path.name, st.st_size, st.st_mtime, classify(path))
