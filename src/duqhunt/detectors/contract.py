"""The one detector contract every family (network, host, documents) derives from.

A detector is class-level metadata (a stable id such as ``DQ-NET-002``, never reused; the
kill-chain stage it speaks to; its ATT&CK technique ids; the severities it may give; what it
reads) plus a docstring that says what it catches, what it misses and its known false
positives. Findings are built through :meth:`Detector.finding`, so every family derives finding
ids, clamps confidence and checks severity the same way. Detectors that run over a context
(network: the hunt's engine; host: the parsed artefacts) derive from :class:`ContextDetector`;
document detectors are cited by the single pass over each file (docscan) and only carry the
metadata. Each family registers its detectors in one :class:`Registry`; one conformance test
(tests/detectors/test_conformance.py) checks every registered detector of every family.
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

from duqhunt.model.finding import DETECTOR_PREFIXES as PREFIXES
from duqhunt.model.finding import (
    SEVERITIES,
    Detail,
    Evidence,
    Finding,
    Severity,
    Stage,
    finding_id,
    iso_utc,
)
from duqhunt.model.report import NotAnalysed

log = logging.getLogger(__name__)


ID_PATTERN = re.compile(r"DQ-(NET|HOST|DOC)-\d{3}")
ATTACK_PATTERN = re.compile(r"T\d{4}(\.\d{3})?")


class Detector(ABC):
    """Metadata and the finding helper shared by every detector family."""

    id: ClassVar[str]
    title: ClassVar[str]
    stage: ClassVar[Stage]
    attack: ClassVar[tuple[str, ...]]
    sources: ClassVar[tuple[str, ...]]  # what it reads: log types, artefact kinds, "document"
    # the severities its findings may carry; finding() refuses any other, so a detector's
    # documented severity rule and its code cannot drift apart silently
    severities: ClassVar[tuple[Severity, ...]] = SEVERITIES  # type: ignore[assignment]
    # YARA and Sigma matches take their techniques from the rules, not from the detector
    attack_from_rules: ClassVar[bool] = False

    @classmethod
    def finding(
        cls,
        key: Sequence[object],
        title: str,
        severity: Severity,
        confidence: float,
        hosts: str | Sequence[str],
        first: float | None,
        last: float | None,
        evidence: Iterable[Evidence] = (),
        details: Mapping[str, Detail] | Sequence[tuple[str, Detail]] | None = None,
        *,
        attack: Sequence[str] | None = None,
    ) -> Finding:
        """One finding of this detector, its id stable across runs (see ``finding_id``).

        ``hosts`` as one name is the host family's habit, one finding per host and thing: the
        host is then part of the id's key. As a sequence, the id comes from ``key`` alone.
        Confidence is clamped to [0, 1] (the finding keeps it to four places); ``first`` and
        ``last`` are epoch seconds (UTC), the finding keeps them as ISO-8601 strings.
        ``details`` as a mapping are sorted by name; as pairs they keep the order given.
        ``attack`` narrows the techniques to those this finding shows (a rule's own, or a
        subset of the detector's).
        """
        if severity not in cls.severities:
            raise ValueError(f"{cls.id} gives severity {severity!r}, not in {cls.severities}")
        host_tuple: tuple[str, ...]
        if isinstance(hosts, str):
            fid, host_tuple = finding_id(cls.id, hosts, *key), (hosts,)
        else:
            fid, host_tuple = finding_id(cls.id, *key), tuple(hosts)
        return Finding(
            id=fid,
            detector=cls.id,
            title=title,
            stage=cls.stage,
            attack=cls.attack if attack is None else tuple(attack),
            severity=severity,
            confidence=min(1.0, max(0.0, confidence)),
            hosts=host_tuple,
            first_seen=iso_utc(first),
            last_seen=iso_utc(last),
            evidence=tuple(evidence),
            details=dict(
                sorted(details.items()) if isinstance(details, Mapping) else details or ()
            ),
        )


C = TypeVar("C", contravariant=True)


class ContextDetector(Detector, Generic[C]):
    """A detector that runs over its family's context and returns findings."""

    @abstractmethod
    def run(self, ctx: C) -> list[Finding]:
        """The findings over ``ctx``; results later detectors need go into the context."""


D = TypeVar("D", bound=Detector, covariant=True)


@dataclass(frozen=True, slots=True)
class Registry(Generic[D]):
    """One family's detectors, in the order they run (later ones may read what earlier ones
    left in the context)."""

    family: str  # network, host, document
    classes: tuple[type[D], ...]

    @property
    def prefix(self) -> str:
        return PREFIXES[self.family]

    def __iter__(self) -> Iterator[type[D]]:
        return iter(self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.classes)

    def create(self) -> list[D]:
        """A fresh instance of every detector, for one run."""
        return [c() for c in self.classes]


@dataclass(slots=True)
class DetectorRun:
    """What running one family's detectors over a context gave."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # one entry per detector that raised: its id and the error; the report lists it under
    # "not analysed", since what that detector looks for was not looked at
    not_analysed: list[NotAnalysed] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def run_detectors(
    detectors: Sequence[ContextDetector[C]],
    ctx: C,
    caught: tuple[type[BaseException], ...],
    progress: Callable[[int, int], None] | None = None,
) -> DetectorRun:
    """Run ``detectors`` in order over ``ctx``. A detector that raises one of ``caught`` costs
    only its own findings: the others still run, and the failure is a warning and a "not
    analysed" entry naming the detector. Anything else (a bug outside the expected failures
    of the engine or of hostile input) propagates."""
    out = DetectorRun()
    for i, det in enumerate(detectors):
        if progress:
            progress(i, len(detectors))
        t0 = time.perf_counter()
        try:
            out.findings.extend(det.run(ctx))
        except caught as exc:
            log.exception("detector %s failed", det.id)
            out.warnings.append(f"detector {det.id} failed: {exc}")
            reason = f"detector failed, its findings are missing: {type(exc).__name__}: {exc}"
            out.not_analysed.append(NotAnalysed(path=det.id, reason=reason))
        out.seconds[det.id] = round(time.perf_counter() - t0, 3)
    if progress:
        progress(len(detectors), len(detectors))
    return out
