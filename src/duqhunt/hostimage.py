"""Disk images for the host scan: the host artefacts copied out of a raw/E01/VMDK image
through dissect.target (the optional ``image`` extra, AGPL-3.0, never a core dependency), to be
scanned like a triage folder, and the copies' paths named back as ``IMAGE::path/in/volume``.
The image is only read."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from duqhunt.analysis import AnalysisResult
from duqhunt.model.report import InputRecord, NotAnalysed
from duqhunt.sources.host.walk import HostLimits

IMAGE_EXTRA_MESSAGE = (
    "disk images need the optional 'image' extra: pip install 'duqhunt[image]' "
    "(dissect.target, AGPL-3.0); or mount the image and pass the mount point"
)


class ImageRun(Protocol):
    """What copying out of an image reports into: the host scan's run."""

    limits: HostLimits
    inputs: list[InputRecord]
    not_analysed: list[NotAnalysed]
    warnings: list[str]

    def fail(self, path: str, reason: str, kind: str) -> None: ...


# The parts of a Windows volume the host scan reads, as lower-case path segments (fnmatch);
# only these are copied out of an image, so a full disk costs little more than a triage folder.
_IMAGE_WANTED: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split("/"))
    for p in (
        "windows/system32/config/system",
        "windows/system32/config/software",
        "windows/system32/config/*.reg",
        "windows/system32/winevt/logs/*.evtx",
        "windows/system32/winevt/logs/*.json",
        "windows/system32/winevt/logs/*.jsonl",
        "windows/system32/winevt/logs/*.ndjson",
        "windows/system32/drivers/*.sys",
        "windows/system32/t2embed.dll",
        "windows/system32/ntoskrnl.exe",
        "windows/system32/kernel32.dll",
        "windows/inf/*.pnf",
        "windows/inf/*.inf",
        "windows/tasks/*.job",
        "windows/temp/~d*.tmp",
        "users/*/ntuser.dat",
        "users/*/appdata/local/temp/~d*.tmp",
    )
)


def _image_wants(segments: tuple[str, ...], is_dir: bool) -> bool:
    """Whether a file (or a folder on the way to one) of the image is copied out."""
    n = len(segments)
    for pat in _IMAGE_WANTED:
        if (len(pat) > n if is_dir else len(pat) == n) and all(
            fnmatch.fnmatchcase(s, p) for s, p in zip(segments, pat, strict=False)
        ):
            return True
    return False


def _copy_cap(limits: HostLimits, name: str) -> int:
    """The most bytes worth copying out of an image for a file of this name: the limit of the
    analyser that reads it (a damaged volume can claim any size for any file). A larger file
    is read by no analyser past its head (an entropy sample; the rest is refused by size)."""
    low = name.lower()
    if low.endswith(".evtx"):
        return limits.max_evtx_bytes
    if low.endswith((".json", ".jsonl", ".ndjson")):
        return limits.max_json_bytes
    if low.endswith(".reg") or "." not in low or low == "ntuser.dat":  # hives and exports
        return limits.max_hive_bytes
    return max(limits.max_pe_bytes, limits.max_yara_bytes)  # drivers, .pnf, .job, temp files


def _copy_out(run: ImageRun, image: Path, root: Any, out: Path) -> int:
    """Copy the wanted files under ``root`` (a dissect TargetPath) to ``out``, read-only.

    Keeps the walk limits (depth, file count). A file above the limit of the analyser that
    reads it is copied in part: its head (what the .pnf entropy check samples), then a hole
    up to its size, so that names, sizes and times, and what is refused for its size, are the
    same as in a triage folder, and a damaged volume claiming huge files costs no disk.
    Returns the files copied.
    """
    limits = run.limits
    copied = 0
    stack: list[tuple[Any, tuple[str, ...]]] = [(root, ())]
    while stack:
        folder, segs = stack.pop()
        try:
            children = sorted(folder.iterdir(), key=lambda c: str(c.name))
        except Exception as exc:  # dissect raises its own errors on damaged folders
            where = f"{image}::{'/'.join(segs) or '/'}"
            run.not_analysed.append(NotAnalysed(path=where, reason=f"folder not readable: {exc}"))
            run.warnings.append(f"{where}: folder not readable: {exc}")
            continue
        for child in children:
            name = str(child.name)
            rel = (*segs, name)
            low = tuple(s.lower() for s in rel)
            where = f"{image}::{'/'.join(rel)}"
            try:
                if child.is_symlink():
                    continue  # never followed, as in a triage folder
                if child.is_dir():
                    if len(rel) <= limits.max_depth and _image_wants(low, True):
                        stack.append((child, rel))
                    continue
                if not child.is_file() or not _image_wants(low, False):
                    continue
                if copied >= limits.max_files:
                    run.fail(str(image), f"more than {limits.max_files} files", "host-image")
                    return copied
                st = child.stat()
                dest = out.joinpath(*rel)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with child.open("rb") as src, dest.open("wb") as dst:
                    if st.st_size <= _copy_cap(limits, name):
                        shutil.copyfileobj(src, dst, 1 << 20)
                    else:
                        dst.write(src.read(limits.entropy_sample_bytes))
                        dst.truncate(st.st_size)
                os.utime(dest, (st.st_atime, st.st_mtime))
                copied += 1
            except Exception as exc:  # a damaged file is listed, the rest goes on
                run.fail(where, f"not read from the image: {exc}", "host-image")
    return copied


def open_image(run: ImageRun, path: Path, tmp: Path) -> list[Path]:
    """Copy the host artefacts out of a disk image through dissect.target (optional extra).

    The image is only read. The Windows system volume is used when dissect detects a Windows
    OS; otherwise every filesystem of the image that holds a Windows folder. Each volume is
    copied to a folder of its own under ``tmp`` and scanned like a triage folder.
    """
    try:
        from dissect.target import Target  # AGPL-3.0, optional
    except ImportError:
        run.fail(str(path), IMAGE_EXTRA_MESSAGE, "host-image")
        return []
    try:
        target = Target.open(str(path))
        roots: list[Any] = []
        if target.os == "windows":
            roots.append(target.fs.path("sysvol"))
        else:
            for fs in target.filesystems:
                top = fs.path("/")
                if any(str(c.name).lower() == "windows" for c in top.iterdir() if c.is_dir()):
                    roots.append(top)
        if not roots:
            kinds = ", ".join(sorted({str(fs.__type__) for fs in target.filesystems})) or "none"
            run.fail(
                str(path),
                f"no Windows volume found in the image (filesystems read: {kinds}); "
                "FAT or ext volumes need dissect.fat or dissect.extfs installed as well",
                "host-image",
            )
            return []
        outs: list[Path] = []
        for i, root in enumerate(roots):
            out = tmp / (path.stem if len(roots) == 1 else f"{path.stem}-{i}")
            out.mkdir(parents=True, exist_ok=True)
            _copy_out(run, path, root, out)
            outs.append(out)
    except Exception as exc:  # dissect raises its own errors on odd images
        run.fail(str(path), f"image not read through dissect.target: {exc}", "host-image")
        return []
    run.inputs.append(InputRecord(path=str(path), kind="host-image", status="analysed"))
    return outs


def unmap_image_paths(result: AnalysisResult, copies: dict[str, str]) -> AnalysisResult:
    """Name files copied out of an image as ``IMAGE::path/in/volume`` (the copies are gone)."""
    if not copies:
        return result

    def un(text: str) -> str:
        for out, image in copies.items():
            if text == out:
                return image
            text = text.replace(out + os.sep, f"{image}::")
        return text

    findings = tuple(
        f.model_copy(
            update={
                "evidence": tuple(e.model_copy(update={"source": un(e.source)}) for e in f.evidence)
            }
        )
        for f in result.findings
    )
    return dataclasses.replace(
        result,
        findings=findings,
        inputs=tuple(i.model_copy(update={"path": un(i.path)}) for i in result.inputs),
        not_analysed=tuple(
            n.model_copy(update={"path": un(n.path), "reason": un(n.reason)})
            for n in result.not_analysed
        ),
        warnings=tuple(un(w) for w in result.warnings),
        timeline=tuple(
            {**t, "source": un(t["source"]) if t["source"] else t["source"]}
            for t in result.timeline
        ),
        sightings=tuple(
            dataclasses.replace(
                s, machine=un(s.machine) if s.machine else None, where=un(s.where or "") or None
            )
            for s in result.sightings
        ),
    )
