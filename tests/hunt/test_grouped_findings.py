"""Grouped findings (model/grouping.py) through a real hunt: a mass service deployment written
as an event-log export (the JSON shape the host scanner reads beside EVTX, as the simulator's
triage folders do) is an event storm of hundreds of per-event findings and comes out as at
most 5 findings, each with its count and occurrences; report.json caps the occurrences and
findings.jsonl keeps every one; ids are the scheme's; a verdict on an occurrence still
applies; the CSV counts the repeats. Grouping across hosts and the order of groups are tested
on findings built here, the demo's summary in test_grouped_demo.py."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from duqhunt.hostscan import scan_host
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.finding import STAGES, Evidence, Finding, finding_id, severity_rank
from duqhunt.model.grouping import (
    KILL_CHAIN_ORDER,
    MAX_OCCURRENCES,
    STORM_MIN,
    group_findings,
    merge_repeats,
    title_shape,
)
from duqhunt.model.report import ReportDocument
from duqhunt.render import write_outputs
from duqhunt.render.csvout import render_csv
from duqhunt.triage import TriageStore, with_triage

ID = re.compile(r"^DQ-(?:NET|HOST|DOC)-\d{3}-[0-9a-f]{16}$")
DEPLOYED = 200
T0 = datetime(2011, 10, 20, 9, 0, tzinfo=UTC).timestamp()


def _event(computer: str, channel: str, event_id: int, t: float, data: dict[str, object]) -> str:
    when = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(
        {
            "Event": {
                "EventData": data,
                "System": {
                    "Channel": channel,
                    "Computer": computer,
                    "EventID": event_id,
                    "TimeCreated": {"#attributes": {"SystemTime": when}},
                },
            }
        }
    )


def write_mass_deployment(root: Path, n: int = DEPLOYED, computer: str = "FILESRV01") -> Path:
    """A triage folder of one server that a deployment tool reached `n` times from one admin
    workstation: each time a network logon, the tool's binary written to ADMIN$, and a service
    with a per-run name (PAExec-<pid>-<source>, as PAExec names them) installed (Security 4624,
    5145, 4697 and System 7045). Inert JSON lines, nothing to run."""
    logs = root / "host-filesrv01" / "Windows" / "System32" / "winevt" / "Logs"
    logs.mkdir(parents=True)
    security, system = [], []
    for i in range(n):
        t = T0 + 30.0 * i
        logon = f"0x{0x5000 + i:x}"
        name = f"PAExec-{4000 + 7 * i}-ADMIN07"
        image = f"C:\\Windows\\{name}.exe"
        subject = {
            "SubjectDomainName": "CORP",
            "SubjectUserName": "svc_deploy",
            "SubjectLogonId": logon,
        }
        security += [
            _event(
                computer,
                "Security",
                4624,
                t,
                {
                    "IpAddress": "10.0.1.30",
                    "LogonType": 3,
                    "TargetDomainName": "CORP",
                    "TargetLogonId": logon,
                    "TargetUserName": "svc_deploy",
                },
            ),
            _event(
                computer,
                "Security",
                5145,
                t + 1,
                {
                    **subject,
                    "AccessMask": "0x2",
                    "IpAddress": "10.0.1.30",
                    "RelativeTargetName": f"{name}.exe",
                    "ShareName": "\\\\*\\ADMIN$",
                },
            ),
            _event(
                computer,
                "Security",
                4697,
                t + 2,
                {**subject, "ServiceFileName": image, "ServiceName": name, "ServiceType": "0x10"},
            ),
        ]
        system.append(
            _event(
                computer,
                "System",
                7045,
                t + 2,
                {
                    "AccountName": "LocalSystem",
                    "ImagePath": image,
                    "ServiceName": name,
                    "ServiceType": "user mode service",
                    "StartType": "demand start",
                },
            )
        )
    (logs / "Security.jsonl").write_text("\n".join(security) + "\n", encoding="utf-8")
    (logs / "System.jsonl").write_text("\n".join(system) + "\n", encoding="utf-8")
    return root / "host-filesrv01"


@pytest.fixture(scope="module")
def storm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ReportDocument]:
    """(triage folder, out folder, report) of a hunt of the mass deployment alone."""
    root = tmp_path_factory.mktemp("storm")
    folder = write_mass_deployment(root / "evidence")
    out = root / "out"
    doc = hunt(HuntOptions(inputs=(folder,), out=out, threads=1))
    write_outputs(doc, out)
    return folder, out, doc


def test_the_deployment_is_a_storm_of_per_event_findings(
    storm: tuple[Path, Path, ReportDocument],
) -> None:
    """Without grouping the detectors report hundreds of findings: the input is the storm."""
    folder, _, _ = storm
    per_event = scan_host([folder]).findings
    assert len(per_event) >= 2 * DEPLOYED
    assert sum(f.detector == "DQ-HOST-010" for f in per_event) >= DEPLOYED


def test_a_mass_deployment_is_at_most_five_findings(
    storm: tuple[Path, Path, ReportDocument],
) -> None:
    _, _, doc = storm
    assert 1 <= len(doc.findings) <= 5, [(f.detector, f.title, f.count) for f in doc.findings]
    services = [f for f in doc.findings if f.detector == "DQ-HOST-010"]
    assert services and sum(f.count for f in services) >= DEPLOYED
    for f in doc.findings:
        assert ID.match(f.id), f.id
        if f.count > 1:
            # every repeat is listed with its own id, time and evidence locator
            assert len(f.occurrences) == f.count
            assert len({o.id for o in f.occurrences}) == f.count
            assert all(o.time and o.locator.startswith("record ") for o in f.occurrences)
            # the merged finding keeps the id of its earliest occurrence
            assert f.id == f.occurrences[0].id
            assert f.first_seen == f.occurrences[0].time
            assert "\u2026" in f.title  # the per-run service name is the part that varies
    merged = max(services, key=lambda f: f.count)
    assert merged.hosts == ("FILESRV01",)
    assert merged.title.startswith("service \u2026 installed:")
    # the detector's own id scheme: host and natural key of the first event
    first = merged.occurrences[0]
    assert first.title.startswith("service PAExec-4000-ADMIN07 installed")
    key = ("filesrv01", "paexec-4000-admin07", "c:\\windows\\paexec-4000-admin07.exe")
    assert merged.id == finding_id("DQ-HOST-010", "FILESRV01", *key)
    # and the summary: one group per merged finding
    assert len(doc.summary.groups) == len(doc.findings)


def test_report_json_caps_occurrences_and_findings_jsonl_keeps_them_all(
    storm: tuple[Path, Path, ReportDocument],
) -> None:
    _, out, doc = storm
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    lines = [json.loads(x) for x in (out / "findings.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == [f["id"] for f in report["findings"]]
    big = [f for f in doc.findings if f.count > MAX_OCCURRENCES]
    assert big
    for f in big:
        saved = next(x for x in report["findings"] if x["id"] == f.id)
        line = next(x for x in lines if x["id"] == f.id)
        assert saved["count"] == line["count"] == f.count
        assert len(saved["occurrences"]) == MAX_OCCURRENCES
        assert saved["occurrences"] == line["occurrences"][:MAX_OCCURRENCES]
        assert len(line["occurrences"]) == f.count
        assert len({o["id"] for o in line["occurrences"]}) == f.count
    assert report["summary"]["groups"]


def test_the_csv_counts_the_repeats(storm: tuple[Path, Path, ReportDocument]) -> None:
    _, _, doc = storm
    rows = list(csv.DictReader(io.StringIO(render_csv(doc, bom=False))))
    assert len(rows) == len(doc.findings)
    by_id = {r["finding_id"]: r for r in rows}
    for f in doc.findings:
        if f.count > 1:
            assert by_id[f.id]["count"] == str(f.count)


def test_a_verdict_on_an_occurrence_applies_to_the_merged_finding(
    storm: tuple[Path, Path, ReportDocument], tmp_path: Path
) -> None:
    _, _, doc = storm
    merged = max(doc.findings, key=lambda f: f.count)
    later = merged.occurrences[7].id
    store = TriageStore.for_case(tmp_path / "case.duckdb")
    store.set(later, "benign", "the deployment tool", "dana")
    (again,) = [f for f in with_triage(doc.findings, store.current()) if f.id == merged.id]
    assert again.triage is not None and again.triage.status == "benign"
    # a verdict on the merged finding's own id wins over one on an occurrence
    store.set(merged.id, "confirmed", "", "dana")
    (again,) = [f for f in with_triage(doc.findings, store.current()) if f.id == merged.id]
    assert again.triage is not None and again.triage.status == "confirmed"


def test_merged_ids_do_not_depend_on_event_order(tmp_path: Path) -> None:
    """The same events written in reverse order give the same merged finding ids and counts."""
    folder = write_mass_deployment(tmp_path / "a", n=40)
    rev = write_mass_deployment(tmp_path / "b", n=40)
    for log in (rev / "Windows" / "System32" / "winevt" / "Logs").iterdir():
        lines = log.read_text(encoding="utf-8").splitlines()
        log.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")

    def ids(p: Path, out: Path) -> list[tuple[str, int]]:
        doc = hunt(HuntOptions(inputs=(p,), out=out, threads=1))
        return sorted((f.id, f.count) for f in doc.findings)

    assert ids(folder, tmp_path / "oa") == ids(rev, tmp_path / "ob")


# --- grouping rules on findings built here -------------------------------------------------


def _f(
    detector: str,
    title: str,
    hosts: list[str],
    severity: str = "high",
    stage: str = "installation",
    n: int = 0,
    confidence: float = 0.7,
) -> Finding:
    return Finding(
        id=finding_id(detector, *hosts, title, n),
        detector=detector,
        title=title,
        stage=stage,
        attack=["T1543.003"],
        severity=severity,  # type: ignore[arg-type]
        confidence=confidence,
        hosts=hosts,
        first_seen=f"2011-10-14T10:{n:02d}:00.000Z",
        last_seen=f"2011-10-14T10:{n:02d}:30.000Z",
        evidence=[Evidence(source=f"{hosts[0]}/System.evtx", locator=f"record {n}", summary="")],
    )


def test_the_title_shape_masks_values_not_wording() -> None:
    assert title_shape(
        "10.1.0.15 -> 10.50.0.10: system32\\drivers\\jminet7.sys on ADMIN$, run"
    ) == ("\u2026 -> \u2026: \u2026 on ADMIN$, run")
    assert title_shape("service 7b757458 installed: random-looking service name") == (
        "service \u2026 installed: random-looking service name"
    )
    # a host name of the finding is a value even without digits
    assert title_shape("logon to SECRETARY failed", ["secretary"]) == "logon to \u2026 failed"
    assert title_shape("jminet7.sys matches YARA rule duqhunt_duqu_device_names") == (
        "\u2026 matches YARA rule duqhunt_duqu_device_names"
    )


def test_the_same_artefact_on_eleven_hosts_is_one_group() -> None:
    hosts = [f"WS{100 + i}" for i in range(11)]
    same = [_f("DQ-HOST-006", "service JmiNET3: Duqu service name", [h]) for h in hosts]
    other = _f("DQ-HOST-006", "service JmiNET3: Duqu service name", ["WS999"], severity="medium")
    groups = group_findings([*same, other])
    assert len(groups) == 2
    g = groups[0]
    assert (g.detector, g.severity, g.title) == ("DQ-HOST-006", "high", same[0].title)
    assert sorted(g.hosts) == hosts
    assert sorted(g.finding_ids) == sorted(f.id for f in same)
    assert g.count == 11
    # findings on other hosts are never merged into one finding: each host keeps its own
    assert merge_repeats([*same, other]) == [*same, other]


def test_a_group_id_names_its_detector_and_what_it_groups_not_its_hosts() -> None:
    """A group's id is its detector, "-group-" and 16 hex digits of what makes the group (the
    same form as finding ids): the same on more hosts or in another order, so a verdict given
    to a group on one run still finds it on the next; another severity is another group."""
    hosts = [f"WS{100 + i}" for i in range(4)]
    same = [_f("DQ-HOST-006", "service JmiNET3: Duqu service name", [h]) for h in hosts]
    (g,) = group_findings(same[:3])
    assert re.fullmatch(r"DQ-HOST-006-group-[0-9a-f]{16}", g.id), g.id
    assert [x.id for x in group_findings(list(reversed(same)))] == [g.id]
    other = _f("DQ-HOST-006", same[0].title, ["WS999"], severity="medium")
    ids = [x.id for x in group_findings([*same, other])]
    assert ids[0] == g.id and len(set(ids)) == 2


def test_punctuation_around_a_value_stays_in_the_shape() -> None:
    """Quotes, brackets and trailing punctuation belong to the wording, the value inside them
    is masked (grouping.py _split)."""
    assert title_shape('image "a1.dll" (x64) loaded; [c:\\t] done.') == (
        'image "\u2026" (\u2026) loaded; [\u2026] done.'
    )


def test_a_group_spans_its_findings_first_and_last_times() -> None:
    hosts = [f"WS{100 + i}" for i in range(3)]
    members = [
        _f("DQ-HOST-006", "service JmiNET3: Duqu service name", [h], n=n)
        for n, h in zip((7, 3, 5), hosts, strict=True)
    ]
    (g,) = group_findings(members)
    assert (g.first_seen, g.last_seen) == (members[1].first_seen, members[0].last_seen)


def test_a_few_repeats_stay_findings_a_storm_becomes_one() -> None:
    """Two beacons from one host to two servers are two things; STORM_MIN alike ones are one."""
    few = [
        _f("DQ-NET-002", f"10.1.0.15 beacons to 176.31.88.{i} every ~10 min", ["10.1.0.15"], n=i)
        for i in range(STORM_MIN - 1)
    ]
    assert merge_repeats(few) == few
    many = [
        _f("DQ-HOST-010", f"service x{i}y installed: odd", ["SRV"], n=i) for i in range(STORM_MIN)
    ]
    (one,) = merge_repeats(many)
    assert one.count == STORM_MIN and one.id == many[0].id
    assert one.title == "service \u2026 installed: odd"
    assert [o.id for o in one.occurrences] == [f.id for f in many]
    assert one.first_seen == many[0].first_seen and one.last_seen == many[-1].last_seen
    # merging twice changes nothing (a report re-rendered, a case hunted again)
    assert merge_repeats([one]) == [one]
    # a storm merged by an earlier run takes in one more repeat, keeping its id and the
    # occurrences it had: it counts with all its repeats, each still listed
    later = _f("DQ-HOST-010", "service x9y installed: odd", ["SRV"], n=STORM_MIN + 1)
    (more,) = merge_repeats([one, later])
    assert more.count == STORM_MIN + 1 and more.id == one.id
    assert [o.id for o in more.occurrences] == [*(o.id for o in one.occurrences), later.id]


def test_each_occurrence_says_where_its_own_evidence_is() -> None:
    """An occurrence is one repeat's id, time, evidence locator, title and details (module
    docstring, OccurrenceModel): the source and locator are those of that repeat's evidence,
    not the merged finding's; a repeat without evidence points nowhere."""
    many = [
        _f("DQ-HOST-010", f"service x{i}y installed: odd", ["SRV"], n=i) for i in range(STORM_MIN)
    ]
    bare = many[-1].model_copy(update={"evidence": ()})
    (one,) = merge_repeats([*many[:-1], bare])
    assert [(o.id, o.source, o.locator) for o in one.occurrences] == [
        *((f.id, "SRV/System.evtx", f"record {n}") for n, f in enumerate(many[:-1])),
        (bare.id, "", ""),
    ]


def test_a_storm_keeps_what_its_repeats_agree_on() -> None:
    """A merged storm says only what is true of all its repeats (grouping.py _merge): details
    every repeat has with one value stay, details that differ go; its confidence is that of the
    surest repeat, wherever that repeat falls in time; one piece of evidence (source and
    locator) is listed once however many repeats cite it."""
    many = [
        _f("DQ-HOST-010", f"service x{i}y installed: odd", ["SRV"], n=i, confidence=0.6)
        for i in range(STORM_MIN)
    ]
    many = [
        f.model_copy(update={"details": {"share": "ADMIN$", "service": f"x{n}y"}})
        for n, f in enumerate(many)
    ]
    # the surest repeat is neither the first nor the last in time
    many[2] = many[2].model_copy(update={"confidence": 0.95})
    # two repeats cite the same record: listed once
    many[4] = many[4].model_copy(update={"evidence": many[3].evidence})
    (one,) = merge_repeats(many)
    assert one.details == {"share": "ADMIN$"}
    assert one.confidence == 0.95
    assert [(e.source, e.locator) for e in one.evidence] == [
        ("SRV/System.evtx", f"record {n}") for n in range(4)
    ]


def test_a_storm_lists_at_most_max_occurrences_pieces_of_evidence() -> None:
    """The merged finding's evidence stops at MAX_OCCURRENCES distinct pieces, the oldest
    first; its count and occurrences still hold every repeat."""
    many = [
        _f(
            "DQ-HOST-010", f"service x{i}y installed: odd", ["SRV"], n=i % 60, confidence=0.6
        ).model_copy(
            update={
                "evidence": (Evidence(source="SRV/System.evtx", locator=f"record {i}", summary=""),)
            }
        )
        for i in range(MAX_OCCURRENCES + 3)
    ]
    (one,) = merge_repeats(many)
    assert one.count == MAX_OCCURRENCES + 3
    assert len(one.occurrences) == MAX_OCCURRENCES + 3
    assert len(one.evidence) == MAX_OCCURRENCES
    assert len({(e.source, e.locator) for e in one.evidence}) == MAX_OCCURRENCES


def test_groups_are_ordered_by_severity_then_kill_chain_then_hosts() -> None:
    findings = [
        _f("DQ-HOST-008", "MS11-087: not installed", ["A"], severity="medium", stage="posture"),
        _f("DQ-HOST-001", ".pnf file netp191.pnf", ["A", "B"], severity="critical"),
        _f(
            "DQ-NET-002", "10.1.0.15 beacons to 1.2.3.4", ["10.1.0.15"], stage="command-and-control"
        ),
        _f(
            "DQ-NET-007",
            "10.1.0.15 bridges 6 hosts",
            ["10.1.0.15"],
            severity="critical",
            stage="internal-relay",
        ),
        _f("DQ-HOST-003", "jminet7.sys claims to be a driver", ["A"]),
        _f("DQ-HOST-012", "x1.sys matches YARA rule r", ["A", "B", "C"]),
        _f(
            "DQ-NET-005",
            "10.1.0.232 -> 10.1.0.15: f1.sys on ADMIN$",
            ["10.1.0.232"],
            stage="lateral-movement",
        ),
    ]
    groups = group_findings(findings)
    assert [g.detector for g in groups] == [
        "DQ-NET-007",  # critical, relay
        "DQ-HOST-001",  # critical, installation
        "DQ-NET-002",  # high, C&C
        "DQ-NET-005",  # high, lateral movement
        "DQ-HOST-012",  # high, installation, three hosts
        "DQ-HOST-003",  # high, installation, one host
        "DQ-HOST-008",  # medium
    ]
    ranks = [(-severity_rank(g.severity), KILL_CHAIN_ORDER.index(g.stage)) for g in groups]
    assert ranks == sorted(ranks)


def test_every_stage_has_a_kill_chain_place() -> None:
    assert sorted(KILL_CHAIN_ORDER) == sorted(STAGES)
