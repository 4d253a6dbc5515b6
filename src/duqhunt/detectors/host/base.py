"""The host family of the detector contract (:mod:`duqhunt.detectors.contract`): the artefacts
parsed per host and the context host detectors run over."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from duqhunt.detectors.contract import ContextDetector
from duqhunt.detectors.host.content import CertPack, HostPack, KnownGood, builtin_known_good
from duqhunt.sources.host.eventlog import HostEvent
from duqhunt.sources.host.jobfile import JobInfo
from duqhunt.sources.host.pe import PeInfo
from duqhunt.sources.host.registry import HiveFacts
from duqhunt.sources.host.walk import FileEntry

if TYPE_CHECKING:
    from duqhunt.detectors.host.sigma import SigmaQuery


@dataclass(frozen=True, slots=True)
class PnfInfo:
    file: FileEntry
    entropy: float
    has_inf: bool


@dataclass(frozen=True, slots=True)
class YaraHit:
    file: FileEntry
    rule: str
    namespace: str
    strings: tuple[str, ...]
    meta: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class HostArtefacts:
    """Everything parsed for one host (one triage root, or loose files of one host)."""

    host: str
    root: str
    files: list[FileEntry] = field(default_factory=list)
    hives: list[tuple[FileEntry, HiveFacts]] = field(default_factory=list)
    events: list[HostEvent] = field(default_factory=list)
    jobs: list[tuple[FileEntry, JobInfo]] = field(default_factory=list)
    pe: list[tuple[FileEntry, PeInfo]] = field(default_factory=list)
    pnf: list[PnfInfo] = field(default_factory=list)
    yara: list[YaraHit] = field(default_factory=list)
    software_hive_seen: bool = False
    t2embed: str = "unknown"  # present, absent, unreadable, unknown


@dataclass(frozen=True, slots=True)
class HostContext:
    hosts: tuple[HostArtefacts, ...]
    pack: HostPack
    certs: CertPack
    scan_time: float
    sigma: tuple[SigmaQuery, ...] = ()
    known_good: KnownGood = field(default_factory=builtin_known_good)


class HostDetector(ContextDetector[HostContext]):
    """A host detector (DQ-HOST-nnn). Its findings are per host: ``self.finding(key, title,
    severity, confidence, host, first, last, evidence, details)`` keys the id by the host."""


def windows_path(rel: str) -> str:
    """A triage-relative path shown the Windows way."""
    return rel.replace("/", "\\")
