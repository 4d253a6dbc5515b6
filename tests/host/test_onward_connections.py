"""Onward movement (DQ-HOST-015, Sysmon 3): a process that a remote-execution host started
(a service program, a WMI or WinRM child) connecting to another internal host's SMB, RPC or
WinRM port. Synthetic Sysmon exports (host_builders.event_line)."""

from __future__ import annotations

from pathlib import Path

from host_builders import event_line

from duqhunt.hostscan import scan_host
from duqhunt.model import Finding
from duqhunt.sources.host.eventlog import WANTED, _wanted_text

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _start(t: str, image: str, parent: str, pid: int, rec: int) -> str:
    return event_line(
        t,
        1,
        {
            "Image": image,
            "CommandLine": image,
            "ParentImage": parent,
            "ProcessId": str(pid),
            "ParentProcessId": "600",
            "User": "NT AUTHORITY\\SYSTEM",
            "LogonId": "0x3e7",
        },
        channel=SYSMON,
        record=rec,
    )


def _conn(t: str, pid: int, dst: str, port: int, rec: int, initiated: bool = True) -> str:
    return event_line(
        t,
        3,
        {
            "ProcessId": pid,  # type: ignore[dict-item]
            "Image": "x",
            "Initiated": initiated,  # type: ignore[dict-item]
            "SourceIp": "10.1.0.5",
            "DestinationIp": dst,
            "DestinationPort": port,  # type: ignore[dict-item]
        },
        channel=SYSMON,
        record=rec,
    )


def _onward(tmp_path: Path, lines: list[str]) -> list[Finding]:
    p = tmp_path / "sysmon.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [
        f
        for f in scan_host([p]).findings
        if f.detector == "DQ-HOST-015" and "connected to" in f.title
    ]


SERVICES = "C:\\Windows\\System32\\services.exe"


def test_service_program_reaching_another_hosts_smb(tmp_path: Path) -> None:
    lines = [
        _start("2024-03-05T10:00:00Z", "C:\\Windows\\svc32.exe", SERVICES, 500, 1),
        _conn("2024-03-05T10:00:05Z", 500, "10.1.0.20", 445, 2),
        _conn("2024-03-05T10:00:06Z", 500, "10.1.0.20", 445, 3),  # same pair: one finding
    ]
    hits = _onward(tmp_path, lines)
    assert len(hits) == 1
    f = hits[0]
    assert f.severity == "medium" and f.attack == ("T1021.002",)
    assert "10.1.0.20:445" in f.title and "services.exe" in f.title


def test_wmi_shell_reaching_rpc_is_high(tmp_path: Path) -> None:
    wmi = "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe"
    lines = [
        _start("2024-03-05T10:00:00Z", "C:\\Windows\\System32\\cmd.exe", wmi, 700, 1),
        _conn("2024-03-05T10:00:05Z", 700, "192.168.5.9", 135, 2),
    ]
    hits = _onward(tmp_path, lines)
    assert [f.severity for f in hits] == ["high"]
    assert hits[0].attack == ("T1021.003", "T1047")


def test_ordinary_traffic_is_quiet(tmp_path: Path) -> None:
    svchost = "C:\\Windows\\System32\\svchost.exe"
    lines = [
        # an in-box service talking to a DC's SMB, as Netlogon and Group Policy do
        _start("2024-03-05T10:00:00Z", svchost, SERVICES, 800, 1),
        _conn("2024-03-05T10:00:05Z", 800, "10.1.0.2", 445, 2),
        # the odd service program, but to the internet, to a web port, and inbound
        _start("2024-03-05T10:00:00Z", "C:\\Windows\\svc32.exe", SERVICES, 500, 3),
        _conn("2024-03-05T10:00:05Z", 500, "8.8.8.8", 445, 4),
        _conn("2024-03-05T10:00:06Z", 500, "10.1.0.20", 443, 5),
        _conn("2024-03-05T10:00:07Z", 500, "10.1.0.20", 445, 6, initiated=False),
    ]
    assert _onward(tmp_path, lines) == []


def test_connections_filtered_before_decoding() -> None:
    """Only outbound Sysmon 3 to an admin port are decoded (a Sysmon log's network events are
    many)."""
    keep = _conn("2024-03-05T10:00:05Z", 500, "10.1.0.20", 445, 1).replace('": ', '":')
    web = _conn("2024-03-05T10:00:05Z", 500, "10.1.0.20", 443, 1).replace('": ', '":')
    inbound = _conn("2024-03-05T10:00:05Z", 500, "10.1.0.20", 445, 1, False).replace('": ', '":')
    assert _wanted_text(keep, WANTED)
    assert not _wanted_text(web, WANTED) and not _wanted_text(inbound, WANTED)
