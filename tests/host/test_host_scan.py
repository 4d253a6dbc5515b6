"""Host triage: synthetic triage folders built in code, real public samples, robustness."""

from __future__ import annotations

import json
import lzma
import os
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from host_builders import TRUTH as BASE_TRUTH
from host_builders import cert_pkcs7, job_bytes

from duqhunt.analysis import AnalysisResult
from duqhunt.errors import UsageError
from duqhunt.hostscan import is_host_evidence, scan_host
from duqhunt.model import Finding
from duqhunt.simulate.host import build_inert_pe, reg_export, write_triage_folders

DATA = Path(__file__).resolve().parents[1] / "data" / "host"
# the builders' intrusion, with the source of the move infected too
TRUTH = {**BASE_TRUTH, "infected": ["10.1.0.16", "10.1.0.29"]}


def _by(res: AnalysisResult, det: str) -> list[Finding]:
    return [f for f in res.findings if f.detector == det]


def _d(f: Finding) -> dict[str, object]:
    return dict(f.details)


@pytest.fixture(scope="module")
def triage(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], AnalysisResult]:
    out = tmp_path_factory.mktemp("triage")
    folders = write_triage_folders(out, TRUTH, seed=7)
    return folders, scan_host([folders[1]])


def test_infected_folder_every_file_and_registry_detector(
    triage: tuple[list[Path], AnalysisResult],
) -> None:
    _, res = triage
    assert not res.not_analysed, res.not_analysed
    pnf = {_d(f)["file"]: f for f in _by(res, "DQ-HOST-001")}
    assert pnf["Windows\\inf\\netp191.pnf"].severity == "critical"
    assert "Windows\\inf\\usbstor.pnf" not in pnf  # has its .inf, low entropy
    temp = {_d(f)["pattern"]: f for f in _by(res, "DQ-HOST-002")}
    assert temp["~dq*.tmp"].severity == "high"
    assert "~df*.tmp" in temp and temp["~df*.tmp"].details  # corroborated by other signs
    vend = _by(res, "DQ-HOST-003")
    assert vend and _d(vend[0])["vendor"] == "JMicron" and vend[0].severity == "high"
    assert "unsigned" in str(_d(vend[0])["oddities"])
    svc = {_d(f)["service"]: f for f in _by(res, "DQ-HOST-006")}
    assert svc["JmiNET3"].severity == "critical" and "FILTER" in str(_d(svc["JmiNET3"])["reasons"])
    assert "Tcpip" not in svc
    zone = _by(res, "DQ-HOST-007")
    assert zone and _d(zone[0])["value"] == "CF1D"
    posture = _by(res, "DQ-HOST-008")
    assert posture and posture[0].severity == "medium" and _d(posture[0])["installed"] is False
    yara = {_d(f)["rule"] for f in _by(res, "DQ-HOST-012")}
    assert {"duqhunt_duqu_fake_vendor_driver", "duqhunt_duqu_device_names"} <= yara
    assert all(f.hosts == ("WS-10-1-0-29",) for f in res.findings)


def test_infected_folder_lateral_movement_and_timeline(
    triage: tuple[list[Path], AnalysisResult],
) -> None:
    _, res = triage
    moves = _by(res, "DQ-HOST-009")
    assert len(moves) == 1
    m = _d(moves[0])
    assert (m["src"], m["account"], m["services"]) == ("10.1.0.16", "CORP\\adm_jsmith", "JmiNET3")
    assert moves[0].severity == "high" and "ADMIN$" in str(m["shares"])
    installs = _by(res, "DQ-HOST-010")
    assert installs and installs[0].severity == "critical"  # a Duqu driver name
    kinds = {t["kind"] for t in res.timeline}
    assert {"pnf", "driver", "service", "temp-file"} <= kinds
    times = [t["time"] or "" for t in res.timeline]
    assert times == sorted(times)


def test_clean_folder_nothing_above_low(triage: tuple[list[Path], AnalysisResult]) -> None:
    folders, _ = triage
    res = scan_host([folders[-1]])
    assert not res.not_analysed
    high = [f for f in res.findings if f.severity not in ("info", "low")]
    assert not high, [(f.detector, f.title) for f in high]
    posture = _by(res, "DQ-HOST-008")
    assert posture and posture[0].severity == "info" and _d(posture[0])["installed"] is True
    assert not _by(res, "DQ-HOST-002")  # ~DF alone is Office


def test_revoked_certificate_and_pe_anomalies(tmp_path: Path) -> None:
    drivers = tmp_path / "h" / "Windows" / "System32" / "drivers"
    drivers.mkdir(parents=True)
    blob = cert_pkcs7("C-Media Electronics Incorporation", datetime(2012, 8, 2, 12, tzinfo=UTC))
    (drivers / "cmi4432.sys").write_bytes(
        build_inert_pe(
            {
                "CompanyName": "C-Media Electronics Incorporation",
                "FileDescription": "C-Media audio",
            },
            certificate_pkcs7=blob,
        )
    )
    inf = tmp_path / "h" / "Windows" / "inf"
    inf.mkdir()
    (inf / "oem7.dll").write_bytes(
        build_inert_pe({}, sections=(".text", "x\x01yz", ".rsrc"), timestamp=0, driver=False)
    )
    res = scan_host([tmp_path / "h"])
    cert = _by(res, "DQ-HOST-004")
    assert cert and cert[0].severity == "critical"
    assert _d(cert[0])["status"] == "revoked" and _d(cert[0])["serial"] == "1234"
    odd = {_d(f)["file"]: f for f in _by(res, "DQ-HOST-005")}
    f = odd["Windows\\inf\\oem7.dll"]
    assert f.severity == "medium" and "compile time zero" in str(_d(f)["oddities"])
    vend = _by(res, "DQ-HOST-003")
    assert vend and "Duqu driver file name" in str(_d(vend[0])["oddities"])


def test_vendor_claims_are_rated_by_how_many_oddities_they_show(tmp_path: Path) -> None:
    """DQ-HOST-003 (docs/detectors.md): one oddity gives low, two medium, three high; the
    evidence is the driver file read and its place on the host."""
    drivers = tmp_path / "h" / "Windows" / "System32" / "drivers"
    drivers.mkdir(parents=True)
    jmicron = {"CompanyName": "JMicron Technology Corp.", "FileDescription": "JMicron driver"}
    # (file name, OriginalFilename): every one unsigned, the first named as JMicron names its
    # drivers (jmb*.sys), the second with another original name, the third not a JMicron name
    for name, orig in (
        ("jmb38x.sys", "jmb38x.sys"),
        ("jmb39x.sys", "jmbus.sys"),
        ("jmvss.sys", "jmvsnap.sys"),
    ):
        (drivers / name).write_bytes(build_inert_pe({**jmicron, "OriginalFilename": orig}))
    res = scan_host([tmp_path / "h"])
    vend = {_d(f)["file"]: f for f in _by(res, "DQ-HOST-003")}
    at = "Windows\\System32\\drivers\\"
    assert {k: f.severity for k, f in vend.items()} == {
        f"{at}jmb38x.sys": "low",
        f"{at}jmb39x.sys": "medium",
        f"{at}jmvss.sys": "high",
    }
    assert "unsigned" in str(_d(vend[f"{at}jmb38x.sys"])["oddities"])
    assert "jmbus.sys" in str(_d(vend[f"{at}jmb39x.sys"])["oddities"])
    assert "not used by that vendor" in str(_d(vend[f"{at}jmvss.sys"])["oddities"])
    for file, f in vend.items():
        (ev,) = f.evidence
        assert Path(ev.source) == drivers / str(file).rsplit("\\", 1)[1]
        assert ev.locator == file


def test_duqu_service_signs_together_are_at_least_as_sure_as_each_alone(tmp_path: Path) -> None:
    """DQ-HOST-006: each sign a service shows comes with the confidence the host pack gives it
    (content/host/duqu-host.yaml); a finding that names two signs is no less sure than the
    strongest of them, and the signs together are critical."""
    from duqhunt.detectors.host.content import builtin_host_pack

    pack = builtin_host_pack()
    name_conf = {s.name: s.confidence for s in pack.services}["cmi4432"]
    filter_conf = {v.name: v.confidence for v in pack.service_values}["FILTER"]
    cfg = tmp_path / "h" / "Windows" / "System32" / "config"
    cfg.mkdir(parents=True)
    sys_key = "HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001"
    kernel = {"Type": 1, "Start": 1}
    (cfg / "SYSTEM.reg").write_text(
        reg_export(
            {
                # the Duqu service name and its FILTER value, ImagePath in the usual folder
                f"{sys_key}\\Services\\cmi4432": {
                    "ImagePath": "\\SystemRoot\\System32\\drivers\\cmaudio.sys",
                    **kernel,
                    "FILTER": b"\x01" * 64,
                },
                # the FILTER value alone
                f"{sys_key}\\Services\\vsnap": {
                    "ImagePath": "\\SystemRoot\\System32\\drivers\\vsnap.sys",
                    **kernel,
                    "FILTER": b"\x02" * 64,
                },
            }
        ),
        encoding="utf-8",
    )
    res = scan_host([tmp_path / "h"])
    svc = {_d(f)["service"]: f for f in _by(res, "DQ-HOST-006")}
    assert set(svc) == {"cmi4432", "vsnap"}
    both, alone = svc["cmi4432"], svc["vsnap"]
    assert _d(both)["reasons"] == (
        "Duqu service name cmi4432; FILTER value under a driver's service key"
    )
    assert _d(alone)["reasons"] == "FILTER value under a driver's service key"
    assert both.severity == "critical"
    assert both.confidence >= max(name_conf, filter_conf)
    assert alone.confidence >= filter_conf


def test_scheduled_tasks_from_events_and_job_files(tmp_path: Path) -> None:
    root = tmp_path / "h"
    tasks = root / "Windows" / "Tasks"
    tasks.mkdir(parents=True)
    (tasks / "At1.job").write_bytes(
        job_bytes("C:\\Windows\\Temp\\5bbe8cc8.exe", "", "CORP\\adm_jsmith")
    )
    shutil.copy(DATA / "wintask.job", tasks / "GoogleUpdate.job")
    ev = [
        {
            "EventID": 4624,
            "TimeCreated": "2011-10-14T09:00:00Z",
            "Computer": "ws7",
            "LogonType": "3",
            "TargetLogonId": "0x99",
            "TargetUserName": "adm_jsmith",
            "TargetDomainName": "CORP",
            "IpAddress": "10.1.0.16",
        },
        {
            "EventID": 4698,
            "TimeCreated": "2011-10-14T09:00:02Z",
            "Computer": "ws7",
            "SubjectLogonId": "0x99",
            "SubjectUserName": "adm_jsmith",
            "SubjectDomainName": "CORP",
            "TaskName": "\\At1",
            "TaskContent": "<Task><Actions><Exec><Command>C:\\Windows\\Temp\\5bbe8cc8.exe</Command></Exec></Actions></Task>",
        },
        "not json at all",
    ]
    logs = root / "Windows" / "System32" / "winevt" / "Logs"
    logs.mkdir(parents=True)
    (logs / "Security.jsonl").write_text(
        "\n".join(json.dumps(e) if isinstance(e, dict) else e for e in ev), encoding="utf-8"
    )
    res = scan_host([root])
    tasks_f = {_d(f)["task"]: f for f in _by(res, "DQ-HOST-011")}
    assert tasks_f["\\At1"].severity == "high" and _d(tasks_f["\\At1"])["src"] == "10.1.0.16"
    assert tasks_f["At1.job"].severity == "high"
    assert "GoogleUpdate.job" not in tasks_f
    lat = _by(res, "DQ-HOST-009")
    assert lat and _d(lat[0])["tasks"] == "\\At1" and _d(lat[0])["account"] == "CORP\\adm_jsmith"
    assert any("partly analysed" in n.reason for n in res.not_analysed)  # the bad JSON line


# --- real public samples ----------------------------------------------------------------


def test_real_psexec_target_side() -> None:
    res = scan_host([DATA / "md_psexec_adminshare_4624_4697_5140_5145.evtx"])
    moves = _by(res, "DQ-HOST-009")
    assert moves and all(f.hosts == ("srvdefender01.offsec.lan",) for f in moves)
    assert all(
        _d(f)["src"] == "10.23.42.22" and str(_d(f)["account"]).endswith("\\admmig") for f in moves
    )
    assert any(_d(f)["services"] == "PSEXESVC" and f.severity == "high" for f in moves)
    assert any("ADMIN$\\PSEXESVC.exe" in str(_d(f)["files"]) for f in moves)
    svc = _by(res, "DQ-HOST-010")
    assert svc and _d(svc[0])["service"] == "PSEXESVC" and _d(svc[0])["account"] == "OFFSEC\\admmig"


def test_real_service_and_kernel_driver_installs() -> None:
    res = scan_host(
        [DATA / "md_psexec_service_7045.evtx", DATA / "md_kernel_driver_services_7045.evtx"]
    )
    svc = {_d(f)["service"]: f for f in _by(res, "DQ-HOST-010")}
    assert svc["PSEXESVC"].hosts == ("jump01.offsec.lan",) and svc["PSEXESVC"].severity == "high"
    mimi = svc["mimikatz driver (mimidrv)"]
    assert mimi.severity == "medium" and _d(mimi)["kernel"] is True
    assert "Npcap Packet Driver (NPCAP)" not in svc
    assert "Microsoft Office Click-to-Run Service" not in svc
    assert any(t["kind"] == "service" and "mimidrv" in (t["what"] or "") for t in res.timeline)


def test_real_benign_security_log_nothing_above_low() -> None:
    res = scan_host([DATA / "evtxrs_security_real.evtx"])
    assert not [f for f in res.findings if f.severity not in ("info", "low")]
    rec = [i for i in res.inputs if i.kind == "host-evtx"]
    assert rec and rec[0].rows > 2000 and rec[0].status == "analysed"


def test_real_system_hive_lists_services(tmp_path: Path) -> None:
    hive = tmp_path / "SYSTEM"
    hive.write_bytes(lzma.decompress((DATA / "SYSTEM_win7_x86.xz").read_bytes()))
    res = scan_host([hive])
    assert not res.not_analysed and not res.warnings
    rec = [i for i in res.inputs if i.kind == "host-hive"]
    assert rec[0].rows == 467 and rec[0].log_type == "SYSTEM"
    assert not [f for f in res.findings if f.severity not in ("info", "low")]
    assert all(f.hosts == ("WKS-WIN732BITA",) for f in res.findings)


# --- robustness -----------------------------------------------------------------------------


def test_corrupt_hive_and_bad_evtx_chunk_are_listed(tmp_path: Path) -> None:
    root = tmp_path / "h"
    cfg = root / "Windows" / "System32" / "config"
    cfg.mkdir(parents=True)
    (cfg / "SYSTEM").write_bytes(b"regf" + random.Random(8000).randbytes(8000))
    data = bytearray((DATA / "evtxrs_security_real.evtx").read_bytes())
    for off in range(0x1000 + 65536 * 3, 0x1000 + 65536 * 3 + 4096, 7):  # damage one chunk
        data[off] ^= 0xFF
    (cfg / "Security.evtx").write_bytes(bytes(data))
    (cfg / "SOFTWARE.reg").write_text(
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\nbroken line\r\n",
        encoding="utf-8",
    )
    res = scan_host([root])
    reasons = {Path(n.path).name: n.reason for n in res.not_analysed}
    assert "SYSTEM" in reasons and "hive" in reasons["SYSTEM"]
    assert "SOFTWARE.reg" in reasons and "line 4" in reasons["SOFTWARE.reg"]
    evtx_rec = [i for i in res.inputs if i.kind == "host-evtx"]
    assert evtx_rec and evtx_rec[0].rows > 1000  # the rest of the log was still read


def test_symlinks_loops_and_escape_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "netp191.pnf").write_bytes(random.Random(4096).randbytes(4096))
    root = tmp_path / "h"
    (root / "Windows" / "inf").mkdir(parents=True)
    (root / "Windows" / "inf" / "escape.pnf").symlink_to(outside / "netp191.pnf")
    (root / "Windows" / "loop").symlink_to(root / "Windows")
    (root / "Windows" / "dangling").symlink_to(tmp_path / "nothing")
    res = scan_host([root])
    reasons = " | ".join(n.reason for n in res.not_analysed)
    assert (
        "symlink out of" in reasons and "not followed" in reasons and "broken or looping" in reasons
    )
    assert not _by(res, "DQ-HOST-001")


_SCAN_AND_PRINT = """
import json, sys
from pathlib import Path
from duqhunt.hostscan import scan_host
res = scan_host([Path(sys.argv[1])])
print(json.dumps([[n.path, n.reason] for n in res.not_analysed]))
"""


def _scan_without_dac_override(root: Path) -> list[list[str]]:
    """scan_host in a child process that is still root but has lost the two capabilities that
    let root read any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH: dropped from the bounding
    and inheritable sets by setpriv, so the child's execve cannot regain them): file modes
    then apply to it as to any owner, while it still reads the code and venv root owns."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to drop root's capabilities for this test"
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "PYTHONDONTWRITEBYTECODE": "1"}
    drop = "-dac_override,-dac_read_search"
    cmd = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"]
    cmd += [sys.executable, "-c", _SCAN_AND_PRINT, str(root)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_unreadable_file_is_listed(tmp_path: Path) -> None:
    """A file the scanning user may not read is listed as not analysed with the reason. As root
    (CI runs as root) the scan runs in a child without root's power to read any file;
    otherwise in this process."""
    root = tmp_path / "h"
    (root / "Windows").mkdir(parents=True)
    p = root / "Windows" / "locked.pnf"
    p.write_bytes(b"x")
    p.chmod(0)
    try:
        if os.geteuid() == 0:
            listed = _scan_without_dac_override(root)
        else:
            listed = [[n.path, n.reason] for n in scan_host([root]).not_analysed]
    finally:
        p.chmod(0o600)
    assert [r for path, r in listed if path == str(p) and "not readable" in r], listed


def test_image_without_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img = tmp_path / "disk.E01"
    img.write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + b"\x00" * 100)
    # as if the AGPL extra were not installed, whether or not it is here
    monkeypatch.setitem(sys.modules, "dissect", None)
    monkeypatch.setitem(sys.modules, "dissect.target", None)
    res = scan_host([img])
    assert "duqhunt[image]" in res.not_analysed[0].reason and "AGPL" in res.not_analysed[0].reason


def test_missing_input_and_bad_yara_stop_the_run(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        scan_host([tmp_path / "nope"])
    bad = tmp_path / "bad.yar"
    bad.write_text("rule x { condition: }", encoding="utf-8")
    with pytest.raises(UsageError):
        scan_host([tmp_path], yara_rules=[bad])


def _scan_marker_with_rules(tmp_path: Path, rules_text: str) -> AnalysisResult:
    """A triage folder holding one inert marker file, scanned with ``rules_text`` as the user's
    YARA rules."""
    rules = tmp_path / "mine.yar"
    rules.write_text(rules_text, encoding="utf-8")
    root = tmp_path / "h" / "Windows" / "Temp"
    root.mkdir(parents=True)
    (root / "notes.txt").write_bytes(b"xx INERT-MARKER-42 xx")
    return scan_host([tmp_path / "h"], yara_rules=[rules])


def test_user_yara_rules(tmp_path: Path) -> None:
    res = _scan_marker_with_rules(
        tmp_path,
        'rule marker_test { meta: severity = "low" strings: $a = "INERT-MARKER-42" condition: $a }',
    )
    hits = _by(res, "DQ-HOST-012")
    assert hits and hits[0].severity == "low" and _d(hits[0])["rule"] == "marker_test"


def test_user_yara_rule_confidence_meta(tmp_path: Path) -> None:
    """docs/detectors.md (DQ-HOST-012): a user rule's confidence is its ``confidence`` meta,
    else 0.5."""
    res = _scan_marker_with_rules(
        tmp_path,
        'rule sure_test { meta: confidence = "0.9" strings: $a = "INERT-MARKER-42" condition: $a }\n'
        'rule plain_test { strings: $a = "INERT-MARKER-42" condition: $a }\n',
    )
    got = {_d(f)["rule"]: (f.severity, f.confidence) for f in _by(res, "DQ-HOST-012")}
    assert got == {"sure_test": ("medium", 0.9), "plain_test": ("medium", 0.5)}


def test_is_host_evidence(tmp_path: Path) -> None:
    assert is_host_evidence(DATA / "md_psexec_service_7045.evtx")
    assert is_host_evidence(DATA / "wintask.job")
    z = tmp_path / "conn.log"
    z.write_text("#separator \\x09\n", encoding="utf-8")
    assert not is_host_evidence(z)
    j = tmp_path / "events.json"
    j.write_text(
        json.dumps({"EventID": 4624, "TimeCreated": "2011-10-14T09:00:00Z"}) + "\n",
        encoding="utf-8",
    )
    assert is_host_evidence(j)
    (tmp_path / "tri" / "Windows").mkdir(parents=True)
    assert is_host_evidence(tmp_path / "tri")


def test_reg_export_round_trip(tmp_path: Path) -> None:
    from duqhunt.sources.host.registry import parse_reg_text

    p = tmp_path / "x.reg"
    p.write_text(
        reg_export(
            {
                "HKEY_LOCAL_MACHINE\\SYSTEM\\Select": {
                    "Current": 2,
                    "Blob": b"\x01\x02",
                    "S": 'a"b\\c',
                }
            }
        ),
        encoding="utf-8",
    )
    h = parse_reg_text(p, 1 << 20)["SYSTEM"]
    k = h.key("Select")
    assert k is not None and k.values == {"Current": 2, "Blob": b"\x01\x02", "S": 'a"b\\c'}
    assert h.key("") is not None and h.key("")
    _ = datetime.now(UTC)


def test_pe_compile_time_is_reported_in_utc_iso_8601(tmp_path: Path) -> None:
    """The PE header's TimeDateStamp is seconds since 1970 UTC (PE format spec); the finding gives
    it as ISO 8601 with the Z suffix the report uses for every UTC time, and names a compile time
    before 2000 as an oddity with that date."""
    inf = tmp_path / "h" / "Windows" / "inf"
    inf.mkdir(parents=True)
    stamp = int(datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
    (inf / "oem9.dll").write_bytes(build_inert_pe({}, timestamp=stamp, driver=False))
    res = scan_host([tmp_path / "h"])
    f = {_d(f)["file"]: f for f in _by(res, "DQ-HOST-005")}["Windows\\inf\\oem9.dll"]
    assert _d(f)["compile_time"] == "1999-12-31T23:59:59Z"
    assert "compile time before 2000 (1999-12-31T23:59:59Z)" in str(_d(f)["oddities"])
