"""One identity per machine (report hosts[], findings' host_ids) and the one timeline.

The hunt-level test writes Zeek logs (DHCP, NTLM, Kerberos, conn) and adds a real EVTX file,
hunts them with DuckDB and reads hosts[] back; the others give sightings and report documents
directly to the same code (campaign/identity.py, render/hoststory.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from duqhunt.campaign.identity import resolve_identities, with_identities
from duqhunt.campaign.sightings import Sighting, short_name
from duqhunt.cli.main import main
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.finding import Evidence, Finding, iso_utc
from duqhunt.model.report import SCHEMA_VERSION, Campaign, HostModel, ReportDocument
from duqhunt.render import load_report, render_html
from duqhunt.render.hoststory import host_stories
from duqhunt.sources.net.zeek_writer import write_zeek_tsv

DATA = Path(__file__).resolve().parents[1] / "data"
C2 = "77.241.93.160"  # in the shipped Duqu IOC pack
T0 = 1_700_000_000.0
REALM = "CORP.EXAMPLE"
KDC = "10.0.0.2"


def _id(src: str, dst: str, dport: int, n: int) -> dict[str, object]:
    return {
        "uid": f"C{src.replace('.', '')}{dport}{n}",
        "id.orig_h": src,
        "id.orig_p": 40000 + n,
        "id.resp_h": dst,
        "id.resp_p": dport,
    }


def _lease(ts: float, ip: str, name: str) -> dict[str, object]:
    return {
        "ts": ts,
        "uids": ["Cdhcp" + ip.replace(".", "") + str(int(ts) % 1000)],
        "client_addr": ip,
        "server_addr": "10.0.0.3",
        "mac": "00:50:56:00:00:" + ip.rsplit(".", 1)[1],
        "host_name": name,
        "assigned_addr": ip,
        "lease_time": 3600.0,
        "msg_types": ["REQUEST", "ACK"],
    }


def _krb(ts: float, ip: str, client: str, n: int) -> dict[str, object]:
    row = _id(ip, KDC, 88, n)
    row.update({"ts": ts, "request_type": "AS", "client": client, "service": f"krbtgt/{REALM}"})
    return row


def _ntlm(ts: float, ip: str, hostname: str, n: int) -> dict[str, object]:
    row = _id(ip, KDC, 445, n)
    row.update({"ts": ts, "username": "bob", "hostname": hostname, "domainname": "CORP"})
    return row


def _write_logs(tmp: Path) -> Path:
    """WS-MOVE leases 10.0.0.21, then 10.0.0.22 (DHCP); WS-LATE gets 10.0.0.21 afterwards;
    WS-DUAL gives its name in NTLM (lower case, as a workstation may) and as a Kerberos machine
    account; 10.0.0.41 calls itself WS-A in NTLM and WS-B in Kerberos at the same time."""
    logs = tmp / "zeek"
    logs.mkdir()
    contacts = [
        ("10.0.0.21", T0 + 100),  # WS-MOVE, before its lease moved
        ("10.0.0.22", T0 + 5000),  # WS-MOVE, after
        ("10.0.0.31", T0 + 200),
        ("10.0.0.41", T0 + 300),
    ]
    conn = []
    for i, (src, ts) in enumerate(contacts):
        for n in range(3):
            row = _id(src, C2, 443, 10 * i + n)
            row.update({"ts": ts + 60 * n, "proto": "tcp", "conn_state": "SF"})
            conn.append(row)
    write_zeek_tsv(logs / "conn.log", "conn", sorted(conn, key=lambda r: float(r["ts"])))  # type: ignore[arg-type]
    write_zeek_tsv(
        logs / "dhcp.log",
        "dhcp",
        [
            _lease(T0, "10.0.0.21", "ws-move"),
            _lease(T0 + 1800, "10.0.0.21", "ws-move"),
            _lease(T0 + 4000, "10.0.0.22", "ws-move"),
            _lease(T0 + 9000, "10.0.0.21", "ws-late"),
        ],
    )
    write_zeek_tsv(
        logs / "kerberos.log",
        "kerberos",
        [
            _krb(T0 + 210, "10.0.0.31", f"WS-DUAL$/{REALM}", 1),
            _krb(T0 + 310, "10.0.0.41", f"WS-B$/{REALM}", 2),
        ],
    )
    write_zeek_tsv(
        logs / "ntlm.log",
        "ntlm",
        [_ntlm(T0 + 220, "10.0.0.31", "ws-dual", 3), _ntlm(T0 + 305, "10.0.0.41", "WS-A", 4)],
    )
    return logs


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> ReportDocument:
    tmp = tmp_path_factory.mktemp("identity")
    logs = _write_logs(tmp)
    evtx = tmp / "jump" / "System.evtx"  # a real EVTX: 7045 driver services on jump01
    evtx.parent.mkdir()
    shutil.copy(DATA / "host" / "md_kernel_driver_services_7045.evtx", evtx)
    return hunt(HuntOptions(inputs=(logs, evtx), out=tmp / "out", threads=2))


def _by_name(doc: ReportDocument, name: str) -> list[str]:
    return [h.id for h in doc.hosts if name in h.names]


def test_a_dhcp_address_change_is_one_machine_with_both_addresses(joined: ReportDocument) -> None:
    (ws,) = [h for h in joined.hosts if "WS-MOVE" in h.names]
    assert [a.ip for a in ws.ips] == ["10.0.0.21", "10.0.0.22"]
    assert [a.first_seen for a in ws.ips] == [iso_utc(T0), iso_utc(T0 + 4000)]
    assert ws.ips[0].last_seen == iso_utc(T0 + 1800) and ws.ips[0].via == ["dhcp"]
    assert ws.conflicts == []
    # its C&C contacts from both addresses are its findings, and not the later lease holder's
    mine = [f for f in joined.findings if ws.id in f.host_ids]
    assert {h for f in mine for h in f.hosts} >= {"10.0.0.21", "10.0.0.22"}
    (late,) = [h for h in joined.hosts if "WS-LATE" in h.names]
    assert [a.ip for a in late.ips] == ["10.0.0.21"] and late.conflicts == []
    assert not [f for f in joined.findings if late.id in f.host_ids]


def test_ntlm_and_kerberos_names_of_one_machine_are_one_host(joined: ReportDocument) -> None:
    (dual,) = [h for h in joined.hosts if "WS-DUAL" in h.names]
    assert dual.names == ["WS-DUAL"]
    assert [(a.ip, a.via) for a in dual.ips] == [("10.0.0.31", ["kerberos", "ntlm"])]
    assert {e.via for e in dual.evidence} == {"ntlm", "kerberos"}
    assert dual.sources == ["network"] and dual.conflicts == []
    on_it = [f for f in joined.findings if "10.0.0.31" in f.hosts]
    assert on_it and all(f.host_ids == [dual.id] for f in on_it)


def test_two_names_on_one_address_at_once_are_a_conflict_kept(joined: ReportDocument) -> None:
    a, b = (next(h for h in joined.hosts if n in h.names) for n in ("WS-A", "WS-B"))
    assert a.id != b.id
    for h in (a, b):
        assert [x.ip for x in h.ips] == ["10.0.0.41"]
        (c,) = h.conflicts
        assert (c.kind, c.value, sorted(c.host_ids)) == ("ip", "10.0.0.41", sorted([a.id, b.id]))
        assert "WS-A" in c.detail and "WS-B" in c.detail
    # a finding on that address names both machines rather than a guess
    on_it = [f for f in joined.findings if "10.0.0.41" in f.hosts]
    assert on_it and all(sorted(f.host_ids) == sorted([a.id, b.id]) for f in on_it)


def test_a_host_seen_only_in_its_event_log(joined: ReportDocument) -> None:
    (jump,) = [h for h in joined.hosts if "JUMP01" in h.names]
    assert jump.ips == [] and jump.sources == ["host"]
    assert [e.via for e in jump.evidence] == ["evtx"]
    assert jump.evidence[0].count == 6 and jump.evidence[0].where.endswith("System.evtx")
    host_findings = [f for f in joined.findings if f.detector.startswith("DQ-HOST-")]
    assert host_findings and all(f.host_ids == [jump.id] for f in host_findings)


def test_every_finding_of_the_hunt_has_its_machine(joined: ReportDocument) -> None:
    assert joined.schema_version == SCHEMA_VERSION
    assert all(f.host_ids for f in joined.findings)
    known = {h.id for h in joined.hosts}
    assert {i for f in joined.findings for i in f.host_ids} <= known
    assert len(known) == len(joined.hosts)


# -------------------------------------------------------------------------- sightings alone


def test_short_names() -> None:
    assert {short_name(n) for n in ("ws223.corp.local", "WS223$", "CORP\\ws223", " WS223 ")} == {
        "WS223"
    }


def test_an_address_reused_later_belongs_to_each_machine_in_its_period() -> None:
    idx = resolve_identities(
        [
            Sighting("dhcp", "WS1", "10.0.0.5", first=T0, last=T0 + 100),
            Sighting("dhcp", "WS2", "10.0.0.5", first=T0 + 5000, last=T0 + 6000),
        ],
        mentions=["10.0.0.5"],
    )
    ws1, ws2 = idx.by_name["WS1"], idx.by_name["WS2"]
    assert idx.lookup("10.0.0.5", T0 + 50) == [ws1]
    assert idx.lookup("10.0.0.5", T0 + 5500) == [ws2]
    assert sorted(idx.lookup("10.0.0.5", T0, T0 + 5500)) == sorted([ws1, ws2])  # spans both
    assert all(not h.conflicts for h in idx.hosts)


def test_one_triage_folder_with_two_names_is_one_machine_with_the_conflict_shown() -> None:
    idx = resolve_identities(
        [
            Sighting("hive", "WS9", machine="/cases/host-10.9.0.9", where="SYSTEM"),
            Sighting("evtx", "SRV-OLD", machine="/cases/host-10.9.0.9", first=T0, last=T0),
            Sighting("triage-folder", ip="10.9.0.9", machine="/cases/host-10.9.0.9"),
        ]
    )
    (h,) = idx.hosts
    assert h.names == ["WS9", "SRV-OLD"]  # the hive's name first
    assert [a.ip for a in h.ips] == ["10.9.0.9"]
    (c,) = h.conflicts
    assert c.kind == "name" and "SRV-OLD (evtx)" in c.detail and "WS9 (hive)" in c.detail
    assert idx.lookup("srv-old.corp.local") == idx.lookup("10.9.0.9") == [h.id]


def test_ids_are_safe_anchors_for_hostile_names() -> None:
    idx = resolve_identities([Sighting("ntlm", '<img src=x>"', "10.0.0.9")], mentions=["10.0.0.9"])
    (h,) = idx.hosts
    assert h.id.startswith("host-") and all(c.isalnum() or c in "-." for c in h.id)


# ------------------------------------------------------------------- timeline and the story


def _finding(fid: str, detector: str, stage: str, hosts: list[str], t: float | None, **kw: object):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {
        "id": fid,
        "detector": detector,
        "title": f"{detector} {stage}",
        "stage": stage,
        "attack": [],
        "severity": "high",
        "confidence": 0.9,
        "hosts": hosts,
        "first_seen": iso_utc(t),
        "last_seen": iso_utc(t),
        "evidence": [Evidence(source="s", locator="l", summary="x")],
    }
    data.update(kw)
    return Finding.model_validate(data)


def _story_doc() -> ReportDocument:
    day = 86400.0
    return ReportDocument(
        tool_version="t",
        started="a",
        finished="b",
        internal_networks=["10.0.0.0/8"],
        findings=[
            _finding(
                "DQ-NET-002-1", "DQ-NET-002", "command-and-control", ["10.1.0.7"], T0 + 3 * day
            ),
            _finding(
                "DQ-HOST-006-1",
                "DQ-HOST-006",
                "installation",
                ["WS7"],
                T0 + 2 * day,
                evidence=[
                    Evidence(
                        source="SYSTEM", locator="ControlSet001\\Services\\JmiNET3", summary="x"
                    )
                ],
            ),
            _finding(
                "DQ-DOC-008-1",
                "DQ-DOC-008",
                "exploitation",
                [],
                T0,
                evidence=[
                    Evidence(source="/cases/WS7/Downloads/lure.docx", locator="l", summary="x")
                ],
            ),
            _finding("DQ-NET-002-0", "DQ-NET-002", "command-and-control", ["10.1.0.7"], T0 + day),
        ],
        campaign=Campaign(
            hosts=[
                HostModel(
                    ip="10.1.0.7", name="WS7", roles=["patient-zero", "infected"], zone="egress"
                ),
                HostModel(ip="10.1.0.8", name="WS8", roles=["infected"], zone="egress"),
            ],
            lateral_moves=[
                {"src": "10.1.0.7", "dst": "10.1.0.8", "method": "service", "time": iso_utc(T0)}
            ],
        ),
        host_timeline=[
            {
                "time": iso_utc(T0 + 2 * day),
                "host": "WS7",
                "kind": "service",
                "what": "JmiNET3: x.sys",
                "source": "SYSTEM",
            },
            {
                "time": iso_utc(T0 - day),
                "host": "WS7",
                "kind": "pnf",
                "what": "Windows/inf/usbstor.pnf",
                "source": "p",
            },
        ],
    )


def test_the_timeline_interleaves_sources_oldest_first() -> None:
    doc = with_identities(_story_doc())  # names from the campaign hosts, as for a 1.2 report
    ws7 = next(h.id for h in doc.hosts if h.names == ["WS7"])
    rows = [(e.source, e.stage, e.finding_id, e.kind) for e in doc.timeline if e.host_id == ws7]
    assert rows == [
        ("host", None, None, "pnf"),  # context: no finding is about it
        ("document", "exploitation", "DQ-DOC-008-1", None),  # found under .../WS7/...
        ("network", "command-and-control", "DQ-NET-002-0", None),
        ("host", "installation", "DQ-HOST-006-1", None),
        ("host", "installation", "DQ-HOST-006-1", "service"),  # the artefact, linked
        ("network", "command-and-control", "DQ-NET-002-1", None),
    ]
    times = [e.time for e in doc.timeline]
    assert times == sorted(times)
    assert {f.id: f.host_ids for f in doc.findings}["DQ-DOC-008-1"] == [ws7]


def test_the_story_gives_the_delays_and_the_neighbours() -> None:
    doc = with_identities(_story_doc())
    story = next(s for s in host_stories(doc) if s.host.names == ["WS7"])
    assert [(d.label, d.seconds) for d in story.delays] == [
        ("delivery \u2192 installation", 2 * 86400.0),
        ("installation \u2192 first C&C contact", 86400.0),  # the contact after installing
    ]
    assert [st for st, _ in story.by_stage] == [
        "exploitation",
        "installation",
        "command-and-control",
    ]
    assert story.host.roles == ["patient-zero", "infected"] and story.host.zone == "egress"
    (nb,) = story.neighbours
    assert nb.label == "WS8 (10.1.0.8)" and nb.relation == "moved to it (service)"


def test_a_late_installation_is_flagged_against_the_eight_day_window() -> None:
    doc = _story_doc()
    late = [
        f.model_copy(update={"first_seen": iso_utc(T0 + 10 * 86400)})
        if f.stage == "installation"
        else f
        for f in doc.findings
    ]
    story = next(
        s
        for s in host_stories(
            with_identities(doc.model_copy(update={"findings": late, "host_timeline": []}))
        )
        if s.host.names == ["WS7"]
    )
    assert story.delays[0].seconds == 10 * 86400.0
    assert any("8-day window" in n for n in story.notes)


# ------------------------------------------------------------ reports of earlier schemas


def _as_old(doc: ReportDocument, version: str) -> dict[str, object]:
    """The document as a duqhunt of that schema wrote it (without the fields added since)."""
    data = json.loads(doc.model_dump_json())
    data["schema_version"] = version
    for key in ("hosts", "timeline"):
        data.pop(key)
    for f in data["findings"]:
        f.pop("host_ids")
        if version == "1.1":
            f.pop("triage")
    if version == "1.1":
        for b in data["campaign"]["beacons"]:
            b.pop("why", None)
            b.pop("periodicity", None)
    return data


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_report_of_an_earlier_schema_re_renders_with_hosts(
    version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(_as_old(_story_doc(), version)))
    doc = load_report(path)
    assert doc.schema_version == version
    ws7 = next(h for h in doc.hosts if h.names == ["WS7"])
    assert [a.ip for a in ws7.ips] == ["10.1.0.7"] and ws7.evidence[0].via == "campaign"
    # the name and the address of one machine are one host in its findings
    assert {f.id for f in doc.findings if ws7.id in f.host_ids} == {
        "DQ-NET-002-0",
        "DQ-NET-002-1",
        "DQ-HOST-006-1",
        "DQ-DOC-008-1",
    }
    assert doc.timeline
    assert f'id="h-{ws7.id}"' in render_html(doc)
    assert main(["report", str(path), "--format", "html"]) == 0
    html = capsys.readouterr().out
    assert f'<section class="hostpage" id="h-{ws7.id}"' in html
    assert "delivery \u2192 installation: 2d" in html


def test_csv_names_and_addresses_come_from_the_machine() -> None:
    import csv
    import io

    from duqhunt.render.csvout import render_csv

    rows = {
        r["finding_id"]: (r["host_names"], r["host_ips"])
        for r in csv.DictReader(io.StringIO(render_csv(with_identities(_story_doc()), bom=False)))
    }
    assert rows["DQ-HOST-006-1"] == ("WS7", "10.1.0.7")  # named on the host, addressed on the wire
    assert rows["DQ-NET-002-1"] == ("WS7", "10.1.0.7")
    assert rows["DQ-DOC-008-1"] == ("WS7", "10.1.0.7")  # found in WS7's folder


def _logon(ts: float, peer: str, computer: str) -> str:
    return json.dumps(
        {
            "Event": {
                "EventData": {"IpAddress": peer, "LogonType": 3, "TargetUserName": "adm"},
                "System": {
                    "Channel": "Security",
                    "Computer": computer,
                    "EventID": 4624,
                    "TimeCreated": {"#attributes": {"SystemTime": iso_utc(ts)}},
                },
            }
        }
    )


def test_logons_in_a_hosts_own_log_give_its_address(tmp_path: Path) -> None:
    """FILESRV's Security log shows logons from 10.0.0.50; on the wire 10.0.0.50 opened SMB
    to 10.0.0.60 each time (and to others at other times): FILESRV is 10.0.0.60. APPSRV's
    logons each match two SMB targets at once: nothing is said about its address."""
    logs = tmp_path / "zeek"
    logs.mkdir()
    conn = []
    for n, (dst, ts) in enumerate(
        [
            ("10.0.0.60", T0 + 10),
            ("10.0.0.60", T0 + 3600),
            ("10.0.0.61", T0 + 1800),  # another server, at another time
            ("10.0.0.70", T0 + 7200),  # APPSRV's logon: two targets in the window
            ("10.0.0.71", T0 + 7205),
        ]
    ):
        row = _id("10.0.0.50", dst, 445, n)
        row.update({"ts": ts + 0.2, "proto": "tcp", "conn_state": "SF"})
        conn.append(row)
    write_zeek_tsv(logs / "conn.log", "conn", conn)  # type: ignore[arg-type]
    for folder, computer, times in (
        ("case-a", "FILESRV", (T0 + 10, T0 + 3600)),
        ("case-b", "APPSRV", (T0 + 7200,)),
    ):
        evt = tmp_path / "triage" / folder / "Windows" / "System32" / "winevt" / "Logs"
        evt.mkdir(parents=True)
        (evt / "Security.jsonl").write_text(
            "".join(_logon(t, "10.0.0.50", computer) + "\n" for t in times)
        )
    doc = hunt(HuntOptions(inputs=(logs, tmp_path / "triage"), out=tmp_path / "out", threads=2))
    (filesrv,) = [h for h in doc.hosts if h.names == ["FILESRV"]]
    assert [(a.ip, a.via) for a in filesrv.ips] == [("10.0.0.60", ["evtx-logon"])]
    (ev,) = [e for e in filesrv.evidence if e.via == "evtx-logon"]
    assert ev.count == 2 and ev.first_seen == iso_utc(T0 + 10.2)
    (appsrv,) = [h for h in doc.hosts if h.names == ["APPSRV"]]
    assert appsrv.ips == []
    assert not any(h.names == ["10.0.0.50"] for h in doc.hosts)  # a peer is never an own name


def test_host_pages_escape_names_and_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    import duqhunt.render.html as html_mod

    doc = _story_doc()
    hostile = "<script>alert(1)</script>"
    camp = doc.campaign.model_copy(
        update={"hosts": [*doc.campaign.hosts, HostModel(ip="10.1.0.9", name=hostile)]}
    )
    doc = with_identities(doc.model_copy(update={"campaign": camp}))
    html = render_html(doc)
    # names are machine names (upper case): escaped wherever they are shown
    assert "<SCRIPT>" not in html and "&lt;SCRIPT&gt;ALERT(1)&lt;/SCRIPT&gt;" in html
    assert html.count('<section class="hostpage"') == len(doc.hosts) == 3
    monkeypatch.setattr(html_mod, "MAX_HOST_PAGES", 1)
    capped = render_html(doc)
    assert capped.count('<section class="hostpage"') == 1
    assert "Pages for the 1 most alarming hosts" in capped


def test_an_address_shared_by_many_machines_is_one_bounded_conflict() -> None:
    names = [f"TS{i:02d}" for i in range(30)]  # users of one terminal server, say
    idx = resolve_identities(
        [Sighting("ntlm", n, "10.0.0.99", first=T0, last=T0 + 60) for n in names],
        mentions=["10.0.0.99"],
    )
    assert len(idx.hosts) == 30
    for h in idx.hosts:
        (c,) = h.conflicts
        assert (
            len(c.host_ids) == 20 and c.detail.count("(ntlm)") == 20 and "and 10 more" in c.detail
        )
    assert len(idx.lookup("10.0.0.99", T0 + 30)) == 30
