"""LSASS memory read and threads started in other processes (DQ-HOST-019, Sysmon 10 and 8):
a real mimikatz sample (mdecrevoisier/EVTX-to-MITRE-Attack, CC0, tests/data/PROVENANCE.md) and
synthetic exports for the known-good list and the severity rules."""

from __future__ import annotations

from pathlib import Path

from host_builders import event_line

from duqhunt.hostscan import scan_host
from duqhunt.model import Finding
from duqhunt.sources.host.eventlog import WANTED, _wanted_text

DATA = Path(__file__).resolve().parents[1] / "data" / "host"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
LSASS = "C:\\Windows\\system32\\lsass.exe"


def _hits(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.detector == "DQ-HOST-019"]


def _scan(tmp_path: Path, lines: list[str]) -> list[Finding]:
    p = tmp_path / "sysmon.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return _hits(scan_host([p]).findings)


def _access(source: str, access: str, target: str = LSASS, trace: str = "") -> str:
    data = {"SourceImage": source, "TargetImage": target, "GrantedAccess": access}
    if trace:
        data["CallTrace"] = trace
    return event_line("2024-03-05T10:00:00Z", 10, data, channel=SYSMON)


def _thread(source: str, target: str, module: str) -> str:
    return event_line(
        "2024-03-05T10:00:00Z",
        8,
        {"SourceImage": source, "TargetImage": target, "StartModule": module},
        channel=SYSMON,
    )


def test_real_mimikatz_reading_lsass() -> None:
    """mimikatz.exe from C:\\TOOLS opening lsass.exe with 0x1010 (sekurlsa::logonpasswords)."""
    (f,) = _hits(scan_host([DATA / "md_mimikatz_lsass_sysmon_10.evtx"]).findings)
    assert f.severity == "high" and f.attack == ("T1003.001",)
    assert f.title == "mimikatz.exe read the memory of lsass.exe"
    d = dict(f.details)
    assert d["granted_access"] == "0x1010" and str(d["source_image"]).endswith("mimikatz.exe")


def test_known_good_readers_and_rights_without_memory_read(tmp_path: Path) -> None:
    """WMI's provider host and Process Monitor (content/host/known-good.yaml), and an open
    without PROCESS_VM_READ (0x1000, as svchost.exe does all day), are not reported; the
    Task Manager dumping LSASS from System32 is medium, from a dump module high."""
    hits = _scan(
        tmp_path,
        [
            _access("C:\\Windows\\system32\\wbem\\wmiprvse.exe", "0x1410"),
            _access("C:\\Users\\tony\\AppData\\Local\\Temp\\Procmon64.exe", "0x1fffff"),
            _access("C:\\Windows\\system32\\svchost.exe", "0x1000"),
            _access("C:\\Windows\\system32\\taskmgr.exe", "0x1fffff"),
            _access("C:\\Windows\\system32\\werfault.exe", "0x1fffff", trace="dbgcore.dll+6b1f"),
            # the same name from elsewhere is not WMI
            _access("C:\\Users\\Public\\wmiprvse.exe", "0x1410"),
        ],
    )
    sev = {str(dict(f.details)["source_image"]).rsplit("\\", 1)[-1]: f.severity for f in hits}
    assert sev == {"taskmgr.exe": "medium", "werfault.exe": "high", "wmiprvse.exe": "high"}


def test_remote_threads(tmp_path: Path) -> None:
    """A thread that starts outside any module is injected code (high); a program from a
    user folder starting one is medium; in-box programs with a module are not reported."""
    hits = _scan(
        tmp_path,
        [
            _thread(
                "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                "C:\\Windows\\System32\\notepad.exe",
                "",
            ),
            _thread("C:\\Users\\bob\\x.exe", "C:\\Windows\\explorer.exe", "C:\\x\\y.dll"),
            _thread(
                "C:\\Windows\\System32\\csrss.exe",
                "C:\\Windows\\System32\\cmd.exe",
                "C:\\Windows\\System32\\KERNELBASE.dll",
            ),
        ],
    )
    got = sorted((f.severity, f.attack, f.title) for f in hits)
    assert got == [
        ("high", ("T1055",), "powershell.exe started a thread outside any module (injected code) "
         "in notepad.exe"),
        ("medium", ("T1055",), "x.exe started a thread in explorer.exe"),
    ]  # fmt: skip


def test_only_lsass_process_access_is_decoded() -> None:
    def rec(target: str, access: str = "0x1010") -> str:
        return (
            '{"Event":{"System":{"EventID":10,"Channel":"Microsoft-Windows-Sysmon/Operational"},'
            f'"EventData":{{"SourceImage":"C:\\\\x.exe","TargetImage":"{target}",'
            f'"GrantedAccess":"{access}"}}}}}}'
        )

    lsass = "C:\\\\Windows\\\\system32\\\\LSASS.EXE"
    assert _wanted_text(rec(lsass), WANTED)
    assert not _wanted_text(rec(lsass, "0x1000"), WANTED)  # no PROCESS_VM_READ
    assert not _wanted_text(rec("C:\\\\Windows\\\\system32\\\\notepad.exe"), WANTED)


# --- modules loaded into LSASS (Sysmon 7) ------------------------------------------------------


def _load(module: str, signed: str = "true", image: str = LSASS, rec: int = 1) -> str:
    return event_line(
        "2024-03-05T10:00:00Z",
        7,
        {"Image": image, "ImageLoaded": module, "Signed": signed, "Signature": "x"},
        channel=SYSMON,
        record=rec,
    )


def test_modules_loaded_into_lsass(tmp_path: Path) -> None:
    """A DLL from a share (an SSP or password filter) is high; LSASS loading dbgcore.dll (a
    dump of itself) and an unsigned module in System32 are medium; a signed System32 module,
    and any module loaded by another process, are not reported."""
    lines = [
        _load("\\\\10.0.0.9\\shared\\lsadb.dll", "false", rec=1),
        _load("C:\\Windows\\System32\\dbgcore.dll", rec=2),
        _load("C:\\Windows\\System32\\evilssp.dll", "false", rec=3),
        _load("C:\\Windows\\System32\\msv1_0.dll", rec=4),
        _load("C:\\Users\\Public\\wwlib.dll", "false", image="C:\\ProgramData\\cv.exe", rec=5),
    ]
    got = {(f.title.split()[0], f.severity, f.attack) for f in _scan(tmp_path, lines)}
    assert got == {
        ("lsadb.dll", "high", ("T1547.005", "T1003.001")),
        ("dbgcore.dll", "medium", ("T1003.001",)),
        ("evilssp.dll", "medium", ("T1547.005", "T1003.001")),
    }


def test_only_image_loads_into_lsass_are_decoded() -> None:
    def rec(image: str) -> str:
        return (
            '{"Event":{"System":{"EventID":7,"Channel":"Microsoft-Windows-Sysmon/Operational"},'
            f'"EventData":{{"Image":"{image}","ImageLoaded":"C:\\\\x.dll"}}}}}}'
        )

    assert _wanted_text(rec("C:\\\\Windows\\\\System32\\\\lsass.exe"), WANTED)
    assert not _wanted_text(rec("C:\\\\Windows\\\\System32\\\\svchost.exe"), WANTED)


def test_real_lsass_module_loads_of_a_normal_boot_are_quiet() -> None:
    """Twelve Sysmon 7 of lsass.exe loading signed System32 modules, from OTRF's Empire Run key
    dataset (tests/data/PROVENANCE.md): nothing for DQ-HOST-019."""
    res = scan_host([DATA / "otrf_empire_run_key_sysmon_13_lsass_7.json"])
    assert not _hits(res.findings)
