"""Remote Desktop between internal hosts (DQ-HOST-020) and a WMI event subscription (Sysmon
19/20, DQ-HOST-015) on real samples of mdecrevoisier/EVTX-to-MITRE-Attack (CC0,
tests/data/PROVENANCE.md), and synthetic exports for the address and fan-out rules."""

from __future__ import annotations

from pathlib import Path

from host_builders import event_line

from duqhunt.hostscan import scan_host
from duqhunt.model import Finding

DATA = Path(__file__).resolve().parents[1] / "data" / "host"
LSM = "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"


def _by(findings: list[Finding], det: str) -> list[Finding]:
    return [f for f in findings if f.detector == det]


def test_real_rdp_logons_to_eleven_hosts() -> None:
    """One account from 10.23.123.11 authenticated by RDP on eleven servers (1149)."""
    (f,) = _by(scan_host([DATA / "md_rdp_logins_1149.evtx"]).findings, "DQ-HOST-020")
    assert f.severity == "medium" and f.attack == ("T1021.001",)
    d = dict(f.details)
    assert d["src"] == "10.23.123.11" and d["account"] == "admmig" and d["target_count"] == 11
    assert len(f.hosts) == 11 and "rootdc1.offsec.lan" in f.hosts


def test_rdp_addresses_and_fan_out(tmp_path: Path) -> None:
    """An internal source on fewer than three hosts is low; public and loopback sources (RDP
    exposed to the internet, a tunnel's far end) and machine accounts are not reported; the
    same source on three hosts through 4624 type 10 and LocalSessionManager 21 is medium."""
    lines = [
        event_line("2024-03-05T10:00:00Z", 21, {"User": "CORP\\bob", "Address": "10.1.0.5"},
                   channel=LSM, computer="WS01"),
        event_line("2024-03-05T10:00:00Z", 21, {"User": "CORP\\eve", "Address": "31.14.75.59"},
                   channel=LSM, computer="WS01"),
        event_line("2024-03-05T10:00:00Z", 25, {"User": "CORP\\eve", "Address": "127.0.0.1"},
                   channel=LSM, computer="WS01"),
        *(
            event_line("2024-03-05T11:00:00Z", 4624,
                       {"LogonType": "10", "IpAddress": "10.1.0.9", "TargetUserName": "adm"},
                       computer=host)
            for host in ("SRV1", "SRV2")
        ),
        event_line("2024-03-05T11:30:00Z", 21, {"User": "CORP\\adm", "Address": "10.1.0.9"},
                   channel=LSM, computer="SRV3"),
        # Sysmon's own event 21 (a WMI binding) is not a session logon
        event_line("2024-03-05T11:30:00Z", 21, {"User": "CORP\\adm", "Address": "10.1.0.9"},
                   channel="Microsoft-Windows-Sysmon/Operational", computer="SRV4"),
    ]  # fmt: skip
    p = tmp_path / "rdp.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = {
        (dict(f.details)["src"], f.severity, f.hosts)
        for f in _by(scan_host([p]).findings, "DQ-HOST-020")
    }
    assert got == {
        ("10.1.0.5", "low", ("ws01",)),
        ("10.1.0.9", "medium", ("srv1", "srv2", "srv3")),
    }


def test_real_wmi_event_subscription_powerlurk() -> None:
    """PowerLurk registers filter "Evil" (Sysmon 19) and a command-line consumer (20)."""
    hits = _by(scan_host([DATA / "md_wmi_powerlurk_sysmon_19_20.evtx"]).findings, "DQ-HOST-015")
    assert [(f.severity, f.attack) for f in hits] == [("high", ("T1546.003",))]
    assert "cmd.exe /c echo" in hits[0].title


def test_module_logging_remoting_to_another_host(tmp_path: Path) -> None:
    """PowerShell 4103: Invoke-Command bound to ComputerName fs01 is remoting (medium, WinRM);
    the same cmdlet bound to localhost, and a cmdlet that runs nothing remotely, are not."""
    ps = "Microsoft-Windows-PowerShell/Operational"

    def module(payload: str) -> str:
        return event_line(
            "2024-03-05T10:00:00Z", 4103, {"Payload": payload, "ContextInfo": ""}, channel=ps
        )

    lines = [
        module(
            'CommandInvocation(Invoke-Command): "Invoke-Command"\r\n'
            'ParameterBinding(Invoke-Command): name="ComputerName"; value="fs01"\r\n'
            'ParameterBinding(Invoke-Command): name="ScriptBlock"; value="whoami"\r\n'
        ),
        module(
            'CommandInvocation(Invoke-Command): "Invoke-Command"\r\n'
            'ParameterBinding(Invoke-Command): name="ComputerName"; value="localhost"\r\n'
        ),
        module(
            'CommandInvocation(Get-Service): "Get-Service"\r\n'
            'ParameterBinding(Get-Service): name="ComputerName"; value="fs01"\r\n'
        ),
    ]
    p = tmp_path / "ps.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    hits = _by(scan_host([p]).findings, "DQ-HOST-015")
    assert [(f.severity, f.attack) for f in hits] == [("medium", ("T1021.006",))]
    assert "Invoke-Command run against fs01" in hits[0].title


OTRF_WMI = DATA / "otrf_wmi_subscription_activescript_5861_sysmon_19_21.json"


def test_real_wmi_subscription_joined_across_sysmon_and_wmi_activity() -> None:
    """Covenant's remote ActiveScript subscription (OTRF Security-Datasets, nxlog JSON): Sysmon
    19/20/21, WMI-Activity 5861 and the 5857 of scrcons.exe make one finding naming the
    consumer, its filter and query; the CIMWin32 5857 beside them is not read; a SYSTEM
    temporary subscription (5860) made on the host itself is low."""
    hits = _by(scan_host([OTRF_WMI]).findings, "DQ-HOST-015")
    by_tech = {dict(f.details)["technique"]: f for f in hits}
    assert set(by_tech) == {"WMI event subscription", "WMI temporary event subscription"}
    sub = by_tech["WMI event subscription"]
    d = dict(sub.details)
    assert sub.severity == "high" and sub.attack == ("T1546.003",)
    assert d["consumer"] == "WSUS_RP5ZB" and d["filter"] == "WSUS_QQTJ7"
    assert d["consumer_type"] == "script" and "Win32_LogonSession" in str(d["query"])
    assert d["event_ids"] == "19,21,5857,5861"
    # the scrcons.exe start, not the CIMWin32 provider's 5857 beside it
    assert [e.summary for e in sub.evidence].count(
        "event 5857: WMI ActiveScript consumer host started (scrcons.exe, 5857)"
    ) == 1
    assert sub.hosts == ("WORKSTATION6.theshire.local",)
    tmp = by_tech["WMI temporary event subscription"]
    assert tmp.severity == "low" and dict(tmp.details)["client_machine"] == "WORKSTATION5"


def test_real_powerlurk_filter_joins_its_consumer() -> None:
    """PowerLurk's filter (19) and consumer (20) of the same name, no binding event: one finding
    with the filter's query."""
    (f,) = [
        f
        for f in _by(
            scan_host([DATA / "md_wmi_powerlurk_sysmon_19_20.evtx"]).findings, "DQ-HOST-015"
        )
        if "subscription" in str(dict(f.details)["technique"])
    ]
    d = dict(f.details)
    assert f.severity == "high" and d["consumer"] == "Evil" and d["filter"] == "Evil"
    assert "notepad.exe" in str(d["query"]) and d["event_ids"] == "19,20"


def test_wmi_event_ids_are_read_per_channel(tmp_path: Path) -> None:
    """Sysmon 21 is a WMI binding, LocalSessionManager 21 a session logon; System 19 (Windows
    Update) is neither: each id is read only from the channel that means it."""
    from duqhunt.sources.host.eventlog import WANTED, wanted_event

    assert wanted_event(21, "Microsoft-Windows-Sysmon/Operational", WANTED)
    assert wanted_event(21, LSM, WANTED)
    assert not wanted_event(21, "System", WANTED)
    assert wanted_event(19, "Microsoft-Windows-Sysmon/Operational", WANTED)
    assert not wanted_event(19, "System", WANTED)
    assert wanted_event(5860, "Microsoft-Windows-WMI-Activity/Operational", WANTED)
    assert not wanted_event(5858, "Microsoft-Windows-WMI-Activity/Operational", WANTED)
    binding = event_line(
        "2024-03-05T10:00:00Z",
        21,
        {
            "Operation": "Created",
            "Consumer": ' "CommandLineEventConsumer.Name=\\"c1\\""',
            "Filter": ' "__EventFilter.Name=\\"f1\\""',
        },
        channel="Microsoft-Windows-Sysmon/Operational",
        computer="WS01",
    )
    p = tmp_path / "binding.jsonl"
    p.write_text(binding + "\n", encoding="utf-8")
    (f,) = _by(scan_host([p]).findings, "DQ-HOST-015")
    assert dict(f.details)["consumer"] == "c1" and f.severity == "high"
    # the kind a binding names, in the words Sysmon 20's Type gives it ("Command Line")
    assert dict(f.details)["consumer_type"] == "command line"
    assert not _by(scan_host([p]).findings, "DQ-HOST-020")


def test_temporary_subscription_from_another_machine_is_medium(tmp_path: Path) -> None:
    """WMI-Activity 5860 in the field names of an EVTX (Operation_TemporaryEssStarted): made by
    another machine, medium; made on the host itself, low; a logging consumer's binding (5861,
    Windows' SCM Event Log Consumer) runs nothing and is not reported."""
    wmi = "Microsoft-Windows-WMI-Activity/Operational"
    lines = [
        event_line("2024-03-05T10:00:00Z", 5860,
                   {"NamespaceName": "//./root/CIMV2", "Query": "SELECT * FROM __InstanceCreationEvent",
                    "User": "CORP\\adm", "processid": "1234", "MachineName": "WS09",
                    "PossibleCause": "Temporary"}, channel=wmi, computer="WS01.corp", record=1),
        event_line("2024-03-05T10:00:01Z", 5860,
                   {"NamespaceName": "//./root/CIMV2", "Query": "SELECT * FROM Win32_ProcessStartTrace",
                    "User": "NT AUTHORITY\\SYSTEM", "processid": "99", "MachineName": "WS01",
                    "PossibleCause": "Temporary"}, channel=wmi, computer="WS01.corp", record=2),
        event_line("2024-03-05T10:00:02Z", 5861,
                   {"Namespace": "//./root/subscription", "ESS": "SCM Event Log Filter",
                    "CONSUMER": 'NTEventLogEventConsumer="SCM Event Log Consumer"',
                    "PossibleCause": "Binding"}, channel=wmi, computer="WS01.corp", record=3),
    ]  # fmt: skip
    p = tmp_path / "wmi.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = {
        (dict(f.details)["client_machine"], f.severity)
        for f in _by(scan_host([p]).findings, "DQ-HOST-015")
    }
    assert got == {("WS09", "medium"), ("WS01", "low")}


def test_windows_own_bvt_consumer_is_quiet_only_with_its_script(tmp_path: Path) -> None:
    sysmon = "Microsoft-Windows-Sysmon/Operational"

    def consumer(computer: str, runs: str) -> str:
        data = {"Operation": "Created", "Name": ' "BVTConsumer"', "Type": "Command Line",
                "Destination": f' "{runs}"'}  # fmt: skip
        return event_line("2024-03-05T10:00:00Z", 20, data, channel=sysmon, computer=computer)

    p = tmp_path / "bvt.jsonl"
    p.write_text(
        consumer("WS01", "cscript KernCap.vbs") + "\n" + consumer("WS02", "cmd.exe /c x") + "\n",
        encoding="utf-8",
    )
    (f,) = _by(scan_host([p]).findings, "DQ-HOST-015")
    assert f.hosts == ("WS02",) and f.severity == "high"
