"""The host detector contract: the same class-level metadata as network detectors
(:mod:`duqhunt.detectors.base`), one ``run`` over the artefacts of the hosts in a scan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from duqhunt.detectors.host.content import CertPack, HostPack, KnownGood, builtin_known_good
from duqhunt.model import Evidence, Finding, finding_id
from duqhunt.model.finding import Severity, Stage
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


class HostDetector:
    """Base class: subclasses set the metadata and implement ``run``."""

    id: ClassVar[str]
    title: ClassVar[str]
    stage: ClassVar[Stage]
    attack: ClassVar[tuple[str, ...]]
    sources: ClassVar[tuple[str, ...]]

    def run(self, ctx: HostContext) -> list[Finding]:
        raise NotImplementedError

    def finding(
        self,
        key: tuple[object, ...],
        title: str,
        severity: Severity,
        confidence: float,
        host: str,
        first: float | None,
        last: float | None,
        evidence: list[Evidence],
        details: dict[str, str | int | float | bool | None],
    ) -> Finding:
        return Finding(
            id=finding_id(self.id, host, *key),
            detector=self.id,
            title=title,
            stage=self.stage,
            attack=self.attack,
            severity=severity,
            confidence=round(min(1.0, max(0.0, confidence)), 4),
            hosts=(host,),
            first_seen=first,
            last_seen=last,
            evidence=tuple(evidence),
            details=tuple(sorted(details.items())),
        )


def windows_path(rel: str) -> str:
    """A triage-relative path shown the Windows way."""
    return rel.replace("/", "\\")
