"""The report document: one frozen, versioned document behind every output.

report.json is this model serialised. Text, JSON Lines, HTML (and later STIX and MISP) render
from it, so a saved report re-renders without re-analysis. Its findings are the Finding type
detectors build (model/finding.py), carried as they are. Bump SCHEMA_VERSION on any change
that removes or retypes a field; adding an optional field is a minor bump.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from duqhunt.model.finding import Finding
from duqhunt.model.frozen import Frozen

SCHEMA_VERSION = (
    # 1.1: host_timeline, verdicts; 1.2: findings[].triage, beacon/C&C ranking reasons;
    # 1.3: hosts[] (one identity per machine), findings[].host_ids, timeline[];
    # 1.4: findings[].occurrences[].details, campaign.beacons[] interval and size histograms
    "1.4"
)

Role = Literal["patient-zero", "infected", "bridge", "relay", "c2"]
Zone = Literal["egress", "no-egress"]


class InputRecord(Frozen):
    path: str
    kind: str
    sha256: str | None = None
    status: Literal["analysed", "partial", "skipped", "not-analysed", "already-ingested"]
    log_type: str | None = None
    rows: int = 0
    skipped_rows: int = 0


class NotAnalysed(Frozen):
    path: str
    reason: str


class HostModel(Frozen):
    ip: str
    name: str | None = None
    roles: list[Role] = Field(default_factory=list)
    zone: Zone | None = None


class C2Model(Frozen):
    ip: str
    domain: str | None = None
    score: float = Field(ge=0.0, le=1.0)
    known_ioc: bool
    sources: list[str] = Field(default_factory=list)
    why: list[str] = Field(default_factory=list)


class HistogramModel(Frozen):
    """Counts over bins: bin i holds the values v with edges[i] <= v < edges[i + 1] (the last
    bin also holds edges[-1]); one edge more than counts."""

    edges: list[float]
    counts: list[int]


class BeaconModel(Frozen):
    src: str
    dst: str
    kind: Literal["ip", "http-host", "tls-sni"] = "ip"
    score: float = Field(ge=0.0, le=1.0)
    interval_s: float
    count: int
    first_seen: str | None = None
    last_seen: str | None = None
    suppressed: bool = False
    # score is the C&C ranking score; periodicity the regularity alone; why the reasons
    periodicity: float | None = Field(default=None, ge=0.0, le=1.0)
    why: list[str] = Field(default_factory=list)
    # the shape behind interval_s and the median size, for the strongest C&C candidates only
    # (campaign/beacon_shape.py): seconds between contacts (retries collapsed as the scoring
    # does) and bytes sent per contact
    interval_histogram: HistogramModel | None = None
    size_histogram: HistogramModel | None = None


class Campaign(Frozen):
    hosts: list[HostModel] = Field(default_factory=list)
    c2: list[C2Model] = Field(default_factory=list)
    beacons: list[BeaconModel] = Field(default_factory=list)
    lateral_moves: list[dict[str, object]] = Field(default_factory=list)
    relay_edges: list[dict[str, object]] = Field(default_factory=list)
    bridges: list[dict[str, object]] = Field(default_factory=list)


class HostAddressModel(Frozen):
    """One address a machine had, over the time the evidence shows it (DHCP, several NICs)."""

    ip: str
    first_seen: str | None = None
    last_seen: str | None = None
    via: list[str] = Field(default_factory=list)


class IdentityEvidenceModel(Frozen):
    """One observation that ties a name or an address to a machine."""

    via: str  # ntlm, kerberos, dhcp, dns, hive, hive-interface, evtx, triage-folder, document...
    name: str | None = None
    ip: str | None = None
    where: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    count: int = 1


class IdentityConflictModel(Frozen):
    """Evidence that disagrees about a machine, kept as seen rather than guessed away."""

    kind: Literal["ip", "name"]
    value: str
    host_ids: list[str]
    detail: str


class HostIdentityModel(Frozen):
    """One machine: every name and address the evidence gives it, and its part in the campaign."""

    id: str
    names: list[str] = Field(default_factory=list)
    ips: list[HostAddressModel] = Field(default_factory=list)
    zone: str | None = None  # egress, no-egress (zones), external, or None when unknown
    roles: list[Role] = Field(default_factory=list)
    first_seen: str | None = None
    last_seen: str | None = None
    sources: list[str] = Field(default_factory=list)  # network, host, document
    evidence: list[IdentityEvidenceModel] = Field(default_factory=list)
    conflicts: list[IdentityConflictModel] = Field(default_factory=list)


class TimelineEventModel(Frozen):
    """One dated event of the case, from any source, on one machine (host_id None: none)."""

    time: str
    host_id: str | None = None
    source: str  # network, host, document
    stage: str | None = None
    finding_id: str | None = None
    kind: str | None = None  # for host artefacts: driver, service, pnf, task, temp-file
    summary: str


class FileVerdictModel(Frozen):
    """The document scanner's verdict on one file."""

    path: str
    verdict: Literal[
        "clean", "suspicious", "malicious", "malformed", "partial", "encrypted", "unsupported"
    ]
    reasons: list[str] = Field(default_factory=list)


class FindingGroupModel(Frozen):
    """Findings of one detector that say the same thing (same severity, stage and title shape)
    on any number of hosts: one line of the summary (see model/grouping.py)."""

    id: str
    detector: str
    title: str
    pattern: str
    severity: Literal["info", "low", "medium", "high", "critical"]
    stage: str
    attack: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)
    count: int = Field(ge=1)
    hosts: list[str] = Field(default_factory=list)
    # the machines (hosts[].id) of the group's findings: one machine once, whatever its names
    host_ids: list[str] = Field(default_factory=list)
    finding_ids: list[str] = Field(default_factory=list)
    first_seen: str | None = None
    last_seen: str | None = None


class SummaryModel(Frozen):
    """What every output shows first: the finding groups, most important first."""

    groups: list[FindingGroupModel] = Field(default_factory=list)


class ReportDocument(Frozen):
    schema_version: str = SCHEMA_VERSION
    tool: str = "duqhunt"
    tool_version: str
    started: str
    finished: str
    case: str | None = None
    engine: str = "duckdb"
    internal_networks: list[str] = Field(default_factory=list)
    inputs: list[InputRecord] = Field(default_factory=list)
    not_analysed: list[NotAnalysed] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    campaign: Campaign = Field(default_factory=Campaign)
    host_timeline: list[dict[str, str | None]] = Field(default_factory=list)
    verdicts: list[FileVerdictModel] = Field(default_factory=list)
    hosts: list[HostIdentityModel] = Field(default_factory=list)
    timeline: list[TimelineEventModel] = Field(default_factory=list)
    stats: dict[str, int | float | str] = Field(default_factory=dict)
    summary: SummaryModel = Field(default_factory=SummaryModel)
