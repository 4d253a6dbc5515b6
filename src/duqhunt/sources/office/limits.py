"""Limits for hostile documents and the detection content they are checked against."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from duqhunt.errors import ContentError, InputError


@dataclass(frozen=True, slots=True)
class DocLimits:
    max_file_bytes: int = 100 << 20
    max_total_unpacked_bytes: int = 256 << 20
    max_member_bytes: int = 64 << 20
    max_ratio: int = 200
    max_depth: int = 4
    max_objects: int = 2000
    max_glyphs: int = 65536
    max_findings_per_file: int = 300
    seconds_per_file: float = 30.0
    large_program_bytes: int = 65536
    entropy_window: int = 1024
    entropy_high: float = 7.2
    gap_tolerance: int = 3
    # work of one table walk (layout lookups, CFF charstrings, COLR paint graph)
    max_struct_steps: int = 2_000_000
    # address space a worker process may add to what it holds when it starts: a parser
    # library inflating a hostile part fails with MemoryError (the file is then partial)
    worker_memory_bytes: int = 2 << 30
    # CPU seconds one file may use in its worker (wall clock: twice that and a minute), then
    # the worker is killed wherever it is (a call inside a C extension that never comes back
    # to look at seconds_per_file) and the file is not analysed; 0: no such limit. Above
    # seconds_per_file, so that the cooperative budget, which keeps what was found, normally
    # ends an analysis first
    hard_seconds_per_file: float = 60.0


@dataclass(frozen=True, slots=True)
class BytePattern:
    name: str
    kind: str
    pattern: bytes


@dataclass(frozen=True, slots=True)
class DocContent:
    """content/doc/traits.yaml, parsed."""

    family_names: tuple[tuple[str, float, str], ...]
    copyrights: tuple[tuple[str, float, str], ...]
    patterns: tuple[BytePattern, ...]
    nop_min: int
    nop_bytes: tuple[int, ...]
    shellcode_source: str
    limits: DocLimits
    archive_passwords: tuple[str, ...] = ()
    type1_mm_markers: tuple[str, ...] = ()


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def parse_content(data: dict[str, Any], where: str) -> DocContent:
    try:
        fams: list[tuple[str, float, str]] = []
        cops: list[tuple[str, float, str]] = []
        for t in data["font_traits"]:
            item = (str(t["value"]), float(t["confidence"]), str(t["source"]))
            (cops if t["field"] == "copyright" else fams).append(item)
        sc = data["shellcode"]
        pats = [BytePattern(p["name"], "getpc", _hex(p["hex"])) for p in sc.get("getpc", [])]
        pats += [BytePattern(p["name"], "peb", _hex(p["hex"])) for p in sc.get("peb", [])]
        pats += [
            BytePattern(p["name"], "api-hash", int(p["value"]).to_bytes(4, "little"))
            for p in sc.get("api_hashes", [])
        ]
        lim = {k: v for k, v in (data.get("limits") or {}).items()}
        limits = DocLimits(**lim)
        nop = sc.get("nop_run", {})
        return DocContent(
            family_names=tuple(fams),
            copyrights=tuple(cops),
            patterns=tuple(pats),
            nop_min=int(nop.get("min_length", 64)),
            nop_bytes=tuple(int(b) for b in nop.get("bytes", [0x90])),
            shellcode_source=str(sc.get("source", "")),
            limits=limits,
            archive_passwords=tuple(str(x) for x in data.get("archive_passwords") or ()),
            type1_mm_markers=tuple(str(x) for x in data.get("type1_mm_markers") or ()),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ContentError(f"{where}: bad document content: {exc!r}") from exc


@lru_cache(maxsize=1)
def builtin_content() -> DocContent:
    ref = resources.files("duqhunt.content").joinpath("doc", "traits.yaml")
    return parse_content(yaml.safe_load(ref.read_text(encoding="utf-8")), "content/doc/traits.yaml")


@dataclass(slots=True)
class Budget:
    """Per-file budget: unpacked bytes, object count, deadline. Exceeding raises InputError."""

    path: str
    limits: DocLimits
    unpacked: int = 0
    objects: int = 0
    deadline: float = field(default=0.0)

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = time.monotonic() + self.limits.seconds_per_file

    def take(self, nbytes: int, where: str) -> None:
        self.unpacked += nbytes
        if nbytes > self.limits.max_member_bytes:
            raise InputError(self.path, f"{where}: {nbytes} bytes exceeds the member limit")
        if self.unpacked > self.limits.max_total_unpacked_bytes:
            raise InputError(self.path, f"{where}: unpacked-size budget exceeded")

    def count(self, where: str) -> None:
        self.objects += 1
        if self.objects > self.limits.max_objects:
            raise InputError(self.path, f"{where}: more than {self.limits.max_objects} objects")

    def check_time(self, where: str) -> None:
        if time.monotonic() > self.deadline:
            raise InputError(
                self.path,
                f"{where}: time limit of {self.limits.seconds_per_file}s per file exceeded",
            )
