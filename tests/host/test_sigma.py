"""DQ-HOST-013: Sigma rules (built-in pack and user files) over the host scan's event table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from duqhunt.analysis import AnalysisResult
from duqhunt.detectors.host.sigma import builtin_sigma_files, load_sigma
from duqhunt.errors import UsageError
from duqhunt.hostscan import scan_host
from duqhunt.model import Finding

DATA = Path(__file__).resolve().parents[1] / "data" / "host"
PSEXEC_SECURITY = DATA / "md_psexec_adminshare_4624_4697_5140_5145.evtx"
PSEXEC_SYSTEM = DATA / "md_psexec_service_7045.evtx"
DRIVERS_SYSTEM = DATA / "md_kernel_driver_services_7045.evtx"

USER_RULE = """\
title: Network Logon By admmig
id: 0b7c6f2e-3f51-4a8e-9d1a-6b2f4e1c9a10
status: test
references:
  - https://example.org/duqhunt-test
tags:
  - attack.lateral_movement
  - attack.t1078
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 4624
    LogonType: 3
    TargetUserName: ADMMIG
  filter_field_no_event_has:
    NoSuchField|contains: nothing
  condition: selection and not filter_field_no_event_has
level: low
"""


def _sigma(res: AnalysisResult) -> dict[str, Finding]:
    return {
        str(dict(f.details)["rule_title"]): f for f in res.findings if f.detector == "DQ-HOST-013"
    }


def test_builtin_pack_converts_cleanly() -> None:
    files = builtin_sigma_files()
    assert 3 <= len(files) <= 6
    queries, warnings = load_sigma(files)
    assert not warnings and len(queries) == len(files)
    for f in files:
        assert "references:" in f.read_text()


def test_builtin_pack_on_real_psexec_security_log() -> None:
    found = _sigma(scan_host([PSEXEC_SECURITY]))
    svc = found["PsExec-Style Service Installed (Security 4697)"]
    assert svc.hosts == ("srvdefender01.offsec.lan",)
    assert svc.severity == "high" and svc.stage == "lateral-movement"
    assert "T1569.002" in svc.attack
    d = dict(svc.details)
    assert d["first_ServiceName"] == "PSEXESVC" and d["count"] == 1
    assert "ServiceName=PSEXESVC" in svc.evidence[0].summary
    assert svc.evidence[0].locator == "record 349343"
    share = found["Executable Written Over an Administrative Share (5145)"]
    assert share.hosts == ("srvdefender01.offsec.lan",) and dict(share.details)["count"] == 4
    assert any("RelativeTargetName=PSEXESVC.exe" in e.summary for e in share.evidence)


def test_builtin_pack_on_real_system_logs() -> None:
    found = _sigma(scan_host([PSEXEC_SYSTEM, DRIVERS_SYSTEM]))
    svc = found["PsExec-Style Service Installed (System 7045)"]
    assert (
        svc.hosts == ("jump01.offsec.lan",) and dict(svc.details)["first_ServiceName"] == "PSEXESVC"
    )
    drv = found["Kernel Driver Service Installed From Outside the Windows Driver Folders"]
    assert drv.severity == "medium" and drv.stage == "installation"
    assert all("mimidrv" in e.summary for e in drv.evidence)  # npcap in System32\drivers is not
    assert dict(drv.details)["count"] == 2


def test_benign_security_log_no_sigma_finding_above_low() -> None:
    res = scan_host([DATA / "evtxrs_security_real.evtx"])
    assert not [f for f in _sigma(res).values() if f.severity not in ("info", "low")]
    assert not [w for w in res.warnings if "Sigma" in w]


def test_user_rule_file_and_folder(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "logon.yml").write_text(USER_RULE)
    for given in (rules / "logon.yml", rules):
        res = scan_host([PSEXEC_SECURITY], sigma_rules=[given])
        f = _sigma(res)["Network Logon By admmig"]
        assert f.severity == "low" and f.stage == "lateral-movement" and f.attack == ("T1078",)
        assert f.hosts == ("srvdefender01.offsec.lan",) and dict(f.details)["count"] == 5
        assert not res.warnings


def test_user_rule_on_json_export_without_channel(tmp_path: Path) -> None:
    rule = tmp_path / "svc.yml"
    rule.write_text(
        "title: Odd Service\nlogsource: {product: windows, service: system}\n"
        "detection:\n  sel:\n    EventID: 7045\n    ImagePath|contains: '\\Temp\\'\n"
        "  condition: sel\nlevel: critical\ntags: [attack.t1543.003]\n"
    )
    events = tmp_path / "events.json"
    rec = {
        "EventID": 7045,
        "TimeCreated": "2011-10-14T03:27:11Z",
        "Computer": "HOST-29",
        "ServiceName": "jminet7",
        "ImagePath": "C:\\Windows\\Temp\\jminet7.sys",
    }
    events.write_text(json.dumps(rec) + "\n")
    f = _sigma(scan_host([events], sigma_rules=[rule]))["Odd Service"]
    assert f.severity == "critical" and f.hosts == ("HOST-29",) and f.stage == "installation"


def test_broken_rules_are_warnings(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad_yaml.yml"
    bad_yaml.write_text("title: [unclosed\n  detection: {")
    no_detection = tmp_path / "no_detection.yml"
    no_detection.write_text("title: Missing Detection\nlogsource: {product: windows}\n")
    keywords = tmp_path / "keywords.yml"
    keywords.write_text(
        "title: Keyword Rule\nlogsource: {product: windows, service: system}\n"
        "detection:\n  kw:\n    - mimikatz\n  condition: kw\nlevel: high\n"
    )
    res = scan_host([PSEXEC_SYSTEM], sigma_rules=[bad_yaml, no_detection, keywords])
    warns = [w for w in res.warnings if "Sigma rule" in w]
    assert any(str(bad_yaml) in w for w in warns)
    assert any(str(no_detection) in w for w in warns)
    assert any(str(keywords) in w and "Keyword Rule" in w for w in warns)
    assert "PsExec-Style Service Installed (System 7045)" in _sigma(res)  # the run went on


def test_missing_sigma_path_stops_the_run(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--sigma"):
        scan_host([PSEXEC_SYSTEM], sigma_rules=[tmp_path / "nope.yml"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match=r"no \.yml"):
        scan_host([PSEXEC_SYSTEM], sigma_rules=[empty])


def test_user_rule_on_an_event_id_no_builtin_detector_reads(tmp_path: Path) -> None:
    # 4688 (process creation) is read only because a user rule asks for it
    import json

    from duqhunt.hostscan import scan_host

    events = tmp_path / "Security.jsonl"
    events.write_text(
        json.dumps(
            {
                "EventID": 4688,
                "Channel": "Security",
                "Computer": "WS223",
                "TimeCreated": "2011-10-14T11:00:00Z",
                "EventData": {"NewProcessName": "C:\\Windows\\Temp\\svc.exe"},
            }
        )
        + "\n"
    )
    rule = tmp_path / "proc.yml"
    rule.write_text(
        "title: Process from Windows Temp\n"
        "id: 0e0b7e0a-5b1c-4c5e-9a7e-2f2b8c1d9e01\n"
        "status: experimental\n"
        "logsource: {product: windows, service: security}\n"
        "detection:\n"
        "  sel: {EventID: 4688, NewProcessName|contains: '\\Windows\\Temp\\'}\n"
        "  condition: sel\n"
        "level: medium\n"
    )
    res = scan_host([events], sigma_rules=[rule])
    titles = [f.title for f in res.findings if f.detector == "DQ-HOST-013"]
    assert any("Process from Windows Temp" in t for t in titles), (titles, res.warnings)
