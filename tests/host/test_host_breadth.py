"""Remote execution, pass-the-hash and known-good installs across the event logs responders
collect: public real samples (mdecrevoisier/EVTX-to-MITRE-Attack, CC0: tests/data/PROVENANCE.md)
where the licence allows a fixture, synthetic JSON exports (host_builders.event_line) for the
traces only GPL-licensed samples show (impacket wmiexec, Sysmon 11 by the System process, bare
service image names)."""

from __future__ import annotations

from pathlib import Path

from host_builders import event_line

from duqhunt.hostscan import scan_host
from duqhunt.model import Finding
from duqhunt.sources.host.eventlog import WANTED, read_event_json, read_evtx

DATA = Path(__file__).resolve().parents[1] / "data" / "host"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
MEDIUM_UP = ("medium", "high", "critical")


def _by(findings: list[Finding], det: str) -> list[Finding]:
    return [f for f in findings if f.detector == det]


def _d(f: Finding) -> dict[str, object]:
    return dict(f.details)


def _scan_lines(tmp_path: Path, lines: list[str]) -> list[Finding]:
    p = tmp_path / "events.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return scan_host([p]).findings


# --- real samples ----------------------------------------------------------------------------


def test_real_wmi_child_of_wmiprvse_is_remote_wmi() -> None:
    res = scan_host([DATA / "md_wmimplant_sysmon_1.evtx"])
    hits = _by(res.findings, "DQ-HOST-015")
    assert len(hits) == 1
    f = hits[0]
    assert f.severity == "high" and f.attack == ("T1047",)
    assert _d(f)["parent_image"] == "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe"
    assert "powershell.exe started by wmiprvse.exe" in f.title


def test_real_dcom_mmc20_target_and_source_sides() -> None:
    target = scan_host([DATA / "md_dcomexec_mmc_4624_4688.evtx"]).findings
    dcom = [f for f in _by(target, "DQ-HOST-015") if f.attack == ("T1021.003",)]
    assert [f.severity for f in dcom] == ["medium"]
    assert "mmc.exe started by DCOM" in dcom[0].title
    assert _d(dcom[0])["reasons"] == "mmc.exe started by DCOM (-Embedding): MMC20.Application"
    # the monitoring agent's cscript under MonitoringHost.exe in the same log is not remote
    assert all("cscript" not in f.title for f in _by(target, "DQ-HOST-015"))
    # the first NTLM logon of the attacker has no session key
    pth = _by(target, "DQ-HOST-016")
    assert [(_d(f)["src"], _d(f)["key_length"]) for f in pth] == [("10.23.123.11", "0")]

    source = scan_host([DATA / "md_dcom_mmc20_powershell_4104.evtx"]).findings
    hits = _by(source, "DQ-HOST-015")
    assert len(hits) == 1 and hits[0].severity == "high"
    assert hits[0].attack == ("T1021.003",)
    assert "MMC20.Application.1" in str(_d(hits[0])["command"])


def test_real_pass_the_hash_new_credentials_logon() -> None:
    res = scan_host([DATA / "md_pth_mimikatz_4624_type9.evtx"])
    hits = _by(res.findings, "DQ-HOST-016")
    assert len(hits) == 1
    f = hits[0]
    assert f.severity == "medium" and f.attack == ("T1550.002",)
    assert _d(f)["logon_type"] == "9" and _d(f)["logon_process"] == "seclogo"
    assert _d(f)["account"] == "OFFSEC\\admmig"


def test_real_svcctl_under_system_from_a_remote_address() -> None:
    """MS17-010 psexec: the share accesses run as SYSTEM (0x3e7) yet come from 10.23.123.11;
    they were dropped as the host's own work before."""
    res = scan_host([DATA / "md_ms17_010_psexec_system_5145.evtx"])
    sys_sessions = [
        f for f in _by(res.findings, "DQ-HOST-009") if str(_d(f)["logon_id"]).startswith("0x3e7@")
    ]
    assert len(sys_sessions) == 1
    f = sys_sessions[0]
    assert _d(f)["src"] == "10.23.123.11" and _d(f)["pipes"] == "svcctl"
    assert f.severity == "medium"
    # powershell.exe was only read (AccessMask 0x120089), never "wrote"
    assert _d(f)["files"] is None and "powershell.exe" in str(_d(f)["read"])


def test_real_failed_random_services_and_net_use() -> None:
    res = scan_host([DATA / "md_service_timeout_7009.evtx"])
    failed = _by(res.findings, "DQ-HOST-010")
    # the third name, ItUrroruwhZwMrnl, has a word-like share of vowels and no digit: the
    # name heuristic (events.random_looking) misses it
    assert sorted(_d(f)["service"] for f in failed) == ["JyZPMMxJQxHFDMHV", "gdKhvCScykzNFZKd"]
    assert {f.severity for f in failed} == {"medium"}

    res = scan_host([DATA / "md_net_use_admin_share_4688.evtx"])
    hits = _by(res.findings, "DQ-HOST-015")
    assert len(hits) == 1 and hits[0].attack == ("T1021.002",)
    assert "net use" in hits[0].title


def test_real_local_task_is_not_lateral_movement() -> None:
    """schtasks.exe /create and the 4698 in the same session, no network logon: local."""
    res = scan_host([DATA / "md_schtasks_local_4688_4698.evtx"])
    assert _by(res.findings, "DQ-HOST-009") == []


# --- synthetic exports -----------------------------------------------------------------------


def test_wmiexec_target_side(tmp_path: Path) -> None:
    """impacket wmiexec: cmd.exe under WmiPrvSE.exe writing its output to ADMIN$\\__<epoch>,
    seen by Sysmon and by the share audit (WriteData on a file without a program extension)."""
    redirect = "cmd.exe /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\__1556656369.7 2>&1"
    who = {"SubjectLogonId": "0x7a01", "SubjectUserName": "adm", "SubjectDomainName": "CORP"}
    lines = [
        event_line(
            "2024-03-05T10:00:00Z",
            4624,
            {
                "LogonType": "3",
                "TargetLogonId": "0x7a01",
                "TargetUserName": "adm",
                "TargetDomainName": "CORP",
                "IpAddress": "10.9.0.5",
                "AuthenticationPackageName": "Kerberos",
                "KeyLength": "0",
                "LogonProcessName": "Kerberos",
            },
        ),
        event_line(
            "2024-03-05T10:00:02Z",
            1,
            {
                "Image": "C:\\Windows\\System32\\cmd.exe",
                "CommandLine": redirect,
                "ParentImage": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
                "ParentCommandLine": "C:\\Windows\\system32\\wbem\\wmiprvse.exe -Embedding",
                "User": "CORP\\adm",
                "ProcessId": "4242",
            },
            channel=SYSMON,
        ),
        event_line(
            "2024-03-05T10:00:03Z",
            5145,
            {
                **who,
                "ShareName": "\\\\*\\ADMIN$",
                "RelativeTargetName": "__1556656369.7",
                "AccessMask": "0x2",
                "IpAddress": "10.9.0.5",
            },
        ),
    ]
    findings = _scan_lines(tmp_path, lines)
    wmi = _by(findings, "DQ-HOST-015")
    assert len(wmi) == 1 and wmi[0].severity == "high" and wmi[0].attack == ("T1047",)
    assert "impacket" in wmi[0].title
    lateral = _by(findings, "DQ-HOST-009")
    assert len(lateral) == 1 and lateral[0].severity == "high"
    assert _d(lateral[0])["files"] == "ADMIN$\\__1556656369.7"
    # Kerberos with key length 0 is the ordinary Kerberos network logon, not pass-the-hash
    assert _by(findings, "DQ-HOST-016") == []


def test_old_4688_parent_found_by_process_id(tmp_path: Path) -> None:
    """A 4688 before Windows 10 names no parent image: the creator's id finds WmiPrvSE.exe."""
    lines = [
        event_line(
            "2024-03-05T10:00:00Z",
            4688,
            {
                "NewProcessName": "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
                "NewProcessId": "0x5c4",
                "ProcessId": "0x26c",
                "SubjectLogonId": "0x3e7",
                "SubjectUserName": "WS07$",
            },
        ),
        event_line(
            "2024-03-05T10:00:05Z",
            4688,
            {
                "NewProcessName": "C:\\Windows\\System32\\calc.exe",
                "NewProcessId": "0x9a0",
                "ProcessId": "0x5c4",
                "SubjectLogonId": "0x3e4",
                "SubjectUserName": "WS07$",
            },
        ),
        # the same child under another parent id: not WMI
        event_line(
            "2024-03-05T10:00:09Z",
            4688,
            {
                "NewProcessName": "C:\\Windows\\System32\\calc.exe",
                "NewProcessId": "0x9b0",
                "ProcessId": "0x111",
                "SubjectLogonId": "0x3e4",
                "SubjectUserName": "WS07$",
            },
        ),
    ]
    hits = _by(_scan_lines(tmp_path, lines), "DQ-HOST-015")
    assert len(hits) == 1
    assert _d(hits[0])["parent_image"] == "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe"
    assert _d(hits[0])["image"] == "C:\\Windows\\System32\\calc.exe"


def test_file_written_over_smb_and_bare_service_image(tmp_path: Path) -> None:
    lines = [
        event_line(
            "2024-03-05T10:00:00Z",
            11,
            {"Image": "System", "ProcessId": "4", "TargetFilename": "C:\\Windows\\PSEXESVC.exe"},
            channel=SYSMON,
        ),
        # a file the System process writes that is no program: not reported
        event_line(
            "2024-03-05T10:00:01Z",
            11,
            {"Image": "System", "ProcessId": "4", "TargetFilename": "C:\\Users\\a\\report.docx"},
            channel=SYSMON,
        ),
        event_line(
            "2024-03-05T10:00:02Z",
            7045,
            {
                "ServiceName": "remotesvc",
                "ImagePath": "cmd.exe",
                "ServiceType": "user mode service",
            },
            channel="System",
        ),
    ]
    findings = _scan_lines(tmp_path, lines)
    copies = _by(findings, "DQ-HOST-015")
    assert len(copies) == 1 and copies[0].severity == "high"
    assert "PSEXESVC.exe" in copies[0].title and copies[0].attack == ("T1570", "T1021.002")
    svc = _by(findings, "DQ-HOST-010")
    assert len(svc) == 1 and svc[0].severity == "high"
    assert "bare program name" in str(_d(svc[0])["reasons"])


def test_service_binary_in_a_users_profile_is_suspicious(tmp_path: Path) -> None:
    """A service runs as SYSTEM; no installer puts its binary in one user's Desktop or AppData
    (APT10's jjs.exe ran as a service from \\Users\\IEUser\\Desktop\\info.rar\\). The Public
    and Default profiles are not one user's; Program Files is where services belong; a kernel
    driver keeps its own path rule (one reason, not two)."""
    images = {
        "HxUpdate": '"C:\\Users\\IEUser\\Desktop\\info.rar\\jjs.exe"',
        "AppSvc": "C:\\Users\\bob\\AppData\\Roaming\\upd\\svc.exe",
        "Vendor": '"C:\\Program Files\\Vendor\\svc.exe" -service',
        "PublicSvc": "C:\\Users\\Public\\Documents\\svc.exe",
        "DefaultSvc": "C:\\Users\\Default\\AppData\\x\\svc.exe",
        "Mnemo": "C:\\Users\\bob\\Desktop\\mnemosyne.sys",
        "Pathfinder": "C:\\Users\\bob\\AppData\\Local\\Temp\\pathfinder.exe",
    }
    lines = [
        event_line(
            f"2024-03-05T10:00:0{i}Z",
            7045,
            {
                "ServiceName": name,
                "ImagePath": image,
                "ServiceType": "kernel mode driver"
                if image.endswith(".sys")
                else "user mode service",
            },
            channel="System",
        )
        for i, (name, image) in enumerate(images.items())
    ]
    got = {str(_d(f)["service"]): f for f in _by(_scan_lines(tmp_path, lines), "DQ-HOST-010")}
    for name in ("HxUpdate", "AppSvc"):
        assert got[name].severity == "medium", name
        assert _d(got[name])["reasons"] == "binary in a user's profile folder"
    assert "Vendor" not in got and "DefaultSvc" not in got
    # Public has the shared-folder rule of its own, not this one
    assert "user's profile" not in str(_d(got["PublicSvc"])["reasons"])
    assert _d(got["Mnemo"])["reasons"] == "kernel driver outside System32\\drivers"
    assert got["Mnemo"].severity == "medium"
    # a profile's Temp folder is one fact with one reason (the temp rule), so it stays medium
    assert "user's profile" not in str(_d(got["Pathfinder"])["reasons"])
    assert got["Pathfinder"].severity == "medium", _d(got["Pathfinder"])["reasons"]


def test_known_good_installs_quiet_but_lookalikes_are_not(tmp_path: Path) -> None:
    defender = (
        "C:\\ProgramData\\Microsoft\\Windows Defender\\Definition Updates\\"
        "{685636E8-BD22-49A3-9CF1-CA463D57BE6A}\\MpKsl70489d89.sys"
    )
    lines = [
        event_line(
            "2024-03-05T10:00:00Z",
            7045,
            {"ServiceName": name, "ImagePath": image, "ServiceType": "kernel mode driver"},
            channel="System",
        )
        for name, image in [
            ("MpKsl70489d89", defender),
            ("SysmonDrv", "C:\\Windows\\SysmonDrv.sys"),
            ("WUDFWpdFs", "\\SystemRoot\\system32\\DRIVERS\\WUDFRd.sys"),
            # Defender's name from a user-writable folder is no Defender driver
            ("MpKsl1a2b3c4d", "C:\\Users\\Public\\MpKsl1a2b3c4d.sys"),
        ]
    ]
    findings = _scan_lines(tmp_path, lines)
    reported = sorted(str(_d(f)["service"]) for f in _by(findings, "DQ-HOST-010"))
    assert reported == ["MpKsl1a2b3c4d"]
    sigma = _by(findings, "DQ-HOST-013")
    assert [_d(f)["count"] for f in sigma] == [1]


def test_script_block_parts_reassembled_and_remoting(tmp_path: Path) -> None:
    """A long script block is logged in parts (MessageNumber/MessageTotal): a pattern split
    across two parts is still found."""
    ps = "Microsoft-Windows-PowerShell/Operational"
    common = {"ScriptBlockId": "7b3f-1", "MessageTotal": "2"}
    lines = [
        event_line(
            "2024-03-05T10:00:01Z",
            4104,
            {**common, "MessageNumber": "2", "ScriptBlockText": ' -ComputerName fs01 -Scr {id}"'},
            channel=ps,
        ),
        event_line(
            "2024-03-05T10:00:00Z",
            4104,
            {**common, "MessageNumber": "1", "ScriptBlockText": "$x = 1; Invoke-Command"},
            channel=ps,
        ),
    ]
    hits = _by(_scan_lines(tmp_path, lines), "DQ-HOST-015")
    assert len(hits) == 1 and hits[0].attack == ("T1021.006",)
    assert "Invoke-Command -ComputerName fs01" in str(_d(hits[0])["command"])


def test_events_kept_by_id_and_channel(tmp_path: Path) -> None:
    """Event 1 of the Application log is not a Sysmon process start; 4625 is read by no
    detector and is not kept."""
    p = tmp_path / "mixed.jsonl"
    p.write_text(
        "\n".join(
            [
                event_line("2024-03-05T10:00:00Z", 1, {"Image": "x.exe"}, channel="Application"),
                event_line("2024-03-05T10:00:00Z", 1, {"Image": "y.exe"}, channel=SYSMON),
                event_line("2024-03-05T10:00:00Z", 4625, {"TargetUserName": "a"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    res = read_event_json(p, 100, 1 << 20)
    assert [(e.event_id, e.get("Image")) for e in res.events] == [(1, "y.exe")]
    assert 4625 not in WANTED
    # the EVTX reader applies the same rule before decoding, and skips the system's own
    # service logons (SYSTEM/LOCAL SERVICE/NETWORK SERVICE): of the real Security log's 583
    # logons it keeps the 127 of accounts, every one of them
    every = read_evtx(DATA / "evtxrs_security_real.evtx", 10**6, None).events
    kept = read_evtx(DATA / "evtxrs_security_real.evtx", 10**6).events
    assert {e.event_id for e in kept} <= WANTED
    accounts = [
        e.record_id
        for e in every
        if e.event_id == 4624 and e.get("TargetLogonId") not in ("0x3e7", "0x3e4", "0x3e5")
    ]
    assert len(accounts) == 127
    assert [e.record_id for e in kept if e.event_id == 4624] == accounts


def test_benign_real_security_log_stays_quiet() -> None:
    res = scan_host([DATA / "evtxrs_security_real.evtx"])
    assert [f for f in res.findings if f.severity in MEDIUM_UP] == []


def test_process_prefilter_covers_the_detector_tables() -> None:
    """A process start is skipped before decoding unless it names a program of
    PROCESS_NAMES or holds a keyword: every host process and command-line rule of DQ-HOST-015
    and every local creator of DQ-HOST-009 must be on those lists, or it could never fire."""
    from duqhunt.detectors.host.events import LOCAL_CREATORS
    from duqhunt.detectors.host.execution import COMMAND_RULES, EXPLICIT, PARENTS
    from duqhunt.sources.host.eventlog import PROCESS_KEYWORDS, PROCESS_NAMES, _process_needed

    stem = lambda name: name.removesuffix(".exe")  # noqa: E731
    assert {stem(n) for n in PARENTS} <= PROCESS_NAMES
    assert {stem(n) for n in LOCAL_CREATORS} <= PROCESS_NAMES
    assert {stem(n) for n in EXPLICIT} <= PROCESS_NAMES | {"psexec64"}
    assert {"services", "mshta", "mmc"} <= PROCESS_NAMES
    for needles, *_ in COMMAND_RULES:
        assert set(needles) <= PROCESS_NAMES | set(PROCESS_KEYWORDS), needles
    # the prefilter itself: names in any case, after any separator
    assert _process_needed('{"ParentImage":"C:\\\\Windows\\\\System32\\\\wbem\\\\WmiPrvSE.exe"}')
    assert _process_needed('{"NewProcessName":"C:\\\\x\\\\SC.EXE","ProcessId":"0x4"}', 4688)
    assert _process_needed('{"Image":"p.exe","CommandLine":"Invoke-Command -ComputerName h"}')
    assert not _process_needed('{"Image":"C:\\\\Windows\\\\notepad.exe","ParentImage":"x.exe"}')


def test_user_known_good_list(tmp_path: Path) -> None:
    """A user's own list, in the built-in list's format, quiets the installs it names (both
    globs must match); a missing list stops the run."""
    import pytest

    from duqhunt.errors import UsageError

    lines = [
        event_line(
            "2024-03-05T10:00:00Z",
            7045,
            {"ServiceName": name, "ImagePath": image, "ServiceType": "user mode service"},
            channel="System",
        )
        for name, image in [
            ("XkqzvBtw", "C:\\Program Files\\AcmeEDR\\XkqzvBtw.exe"),
            ("XkqzvBtw", "C:\\Users\\Public\\XkqzvBtw.exe"),
        ]
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(
        "name: site\nentries:\n  - name: Acme EDR\n    reason: our EDR's randomised service\n"
        "    services: ['xkqzvbtw']\n    images: ['c:\\program files\\acmeedr\\*.exe']\n",
        encoding="utf-8",
    )
    before = _by(scan_host([events]).findings, "DQ-HOST-010")
    after = _by(scan_host([events], known_good=[good]).findings, "DQ-HOST-010")
    assert len(before) == 2
    assert [_d(f)["image_path"] for f in after] == ["C:\\Users\\Public\\XkqzvBtw.exe"]
    with pytest.raises(UsageError, match="does not exist"):
        scan_host([events], known_good=[tmp_path / "nope.yaml"])


def test_shell_under_explorer_after_network_logon_is_dcom(tmp_path: Path) -> None:
    """ShellWindows/ShellBrowserWindow run the command in the logged-on user's explorer.exe:
    only the timing after a network logon tells it from the user's own prompt."""
    from duqhunt.sources.host.eventlog import _process_needed

    logon = event_line(
        "2024-03-05T10:00:00Z",
        4624,
        {
            "LogonType": "3",
            "TargetLogonId": "0x91",
            "TargetUserName": "adm",
            "IpAddress": "10.9.0.5",
            "AuthenticationPackageName": "Kerberos",
        },
    )

    def shell(t: str) -> str:
        return event_line(
            t,
            1,
            {
                "Image": "C:\\Windows\\System32\\cmd.exe",
                "CommandLine": "cmd.exe /c whoami",
                "ParentImage": "C:\\Windows\\explorer.exe",
                "User": "WS07\\alice",
            },
            channel=SYSMON,
        )

    hits = _by(_scan_lines(tmp_path, [logon, shell("2024-03-05T10:00:30Z")]), "DQ-HOST-015")
    assert len(hits) == 1 and hits[0].attack == ("T1021.003",) and hits[0].severity == "medium"
    assert "30 s after a network logon of adm from 10.9.0.5" in hits[0].title
    # the user's own prompt an hour later
    later = _by(_scan_lines(tmp_path, [logon, shell("2024-03-05T11:00:00Z")]), "DQ-HOST-015")
    assert later == []
    # the pre-decode filter keeps a shell under explorer.exe, not explorer.exe's other children
    assert _process_needed(
        '{"Image":"C:\\\\Windows\\\\System32\\\\cmd.exe","ParentImage":"C:\\\\Windows\\\\explorer.exe"}'
    )
    assert not _process_needed(
        '{"Image":"C:\\\\Program Files\\\\Word\\\\winword.exe","ParentImage":"C:\\\\Windows\\\\explorer.exe"}'
    )


def test_pipes_served_to_other_hosts(tmp_path: Path) -> None:
    """The host side of a relay: a pipe Windows does not serve, connected by the System
    process (a client over SMB, Sysmon 18) or opened on IPC$ from another address (5145)."""
    ipc = {"ShareName": "\\\\*\\IPC$", "SubjectLogonId": "0x77", "AccessMask": "0x3"}
    lines = [
        event_line(
            "2024-03-05T10:00:00Z",
            18,
            {"Image": "System", "PipeName": "\\46a676ab7f179e511e30dd2dc41bd388"},
            channel=SYSMON,
        ),
        event_line(
            "2024-03-05T10:00:01Z", 18, {"Image": "System", "PipeName": "\\srvsvc"}, channel=SYSMON
        ),
        # a pipe a local process connects to is not served to anyone
        event_line(
            "2024-03-05T10:00:02Z",
            18,
            {"Image": "C:\\x\\client.exe", "PipeName": "\\0123456789abcdef0123"},
            channel=SYSMON,
        ),
        event_line(
            "2024-03-05T10:00:03Z",
            5145,
            {**ipc, "RelativeTargetName": "mshome_relay", "IpAddress": "10.1.0.16"},
        ),
        # over loopback only (the share audit says so): not another host
        event_line(
            "2024-03-05T10:00:04Z",
            5145,
            {**ipc, "RelativeTargetName": "samir", "IpAddress": "127.0.0.1"},
        ),
        event_line(
            "2024-03-05T10:00:04Z", 18, {"Image": "System", "PipeName": "\\samir"}, channel=SYSMON
        ),
    ]
    hits = _by(_scan_lines(tmp_path, lines), "DQ-HOST-017")
    got = {str(_d(f)["pipe"]): (f.severity, _d(f)["src"]) for f in hits}
    assert got == {
        "46a676ab7f179e511e30dd2dc41bd388": ("high", None),
        "mshome_relay": ("medium", "10.1.0.16"),
    }
    assert {f.stage for f in hits} == {"internal-relay"}


def test_random_looking_names_by_the_heuristic_documented_in_events() -> None:
    """events.random_looking (service and pipe names): hex of 6+ with digits and letters; else
    at least 6 characters of high entropy that either have almost no vowels, or mix digits with
    letters whose case changes twice within a few characters. Words, short names, and a name
    with a digit but only one change of case are not random."""
    from duqhunt.detectors.host.events import random_looking

    assert random_looking("5bbe8cc8")  # hex
    assert random_looking("xKq3vBzt")  # no vowels
    assert random_looking("aB3eCiOu")  # vowels enough, but digits and case flipping twice
    assert not random_looking("aBc3eiou")  # one change of case only
    assert not random_looking("Ae3iou")  # a digit among vowels, no change of case
    assert not random_looking("gH3gHgH")  # case flips, but few distinct characters
    assert not random_looking("Spooler")
    assert not random_looking("xKq")  # too short
    assert not random_looking("svc-host-01")  # not alphanumeric


def test_a_driver_is_known_by_its_service_type_in_every_export_form(tmp_path: Path) -> None:
    """7045 gives ServiceType as text ("kernel mode driver", "file system driver"); 4697 gives
    the SERVICE_TYPE number in hex (0x1 kernel driver, 0x2 file system driver) and some
    exports write it in decimal. Each form marks a driver; a user-mode service (0x10) is not
    one."""
    forms = ["kernel mode driver", "file system driver", "0x1", "0x2", "1", "2"]
    forms += ["user mode service", "0x10"]
    lines = [
        event_line(
            "2024-03-05T10:00:00Z",
            7045,
            {"ServiceName": f"Drv{i}", "ImagePath": f"D:\\drv\\d{i}.sys", "ServiceType": t},
            channel="System",
        )
        for i, t in enumerate(forms)
    ]
    found = _by(_scan_lines(tmp_path, lines), "DQ-HOST-010")
    got = {str(_d(f)["service"]): _d(f)["kernel"] for f in found}
    assert got == {f"Drv{i}": i < 6 for i in range(len(forms))}
    reasons = {str(_d(f)["service"]): (f.severity, _d(f)["reasons"]) for f in found}
    assert reasons["Drv0"] == ("medium", "kernel driver outside System32\\drivers")
    assert reasons["Drv6"] == ("low", "service binary on a non-system drive")


def test_a_duqu_driver_stays_critical_whatever_else_it_shows(tmp_path: Path) -> None:
    """The severity of a service install is the highest its reasons give: a Duqu driver
    (critical) under a random-looking service name (medium) stays critical."""
    line = event_line(
        "2024-03-05T10:00:00Z",
        7045,
        {
            "ServiceName": "qXzTkWvBmN",
            "ImagePath": "\\SystemRoot\\System32\\Drivers\\jminet7.sys",
            "ServiceType": "kernel mode driver",
        },
        channel="System",
    )
    (f,) = _by(_scan_lines(tmp_path, [line]), "DQ-HOST-010")
    assert "random-looking service name" in str(_d(f)["reasons"])
    assert "Duqu driver jminet7.sys" in str(_d(f)["reasons"]) and f.severity == "critical"


def test_mshta_started_with_embedding_is_dcom_lethalhta(tmp_path: Path) -> None:
    """mshta.exe with -Embedding is the HTA COM server started over DCOM (the LethalHTA
    technique): high, with that reason; mshta.exe opening a file by hand is not remote."""

    def start(cmd: str, pid: str) -> str:
        return event_line(
            "2024-03-05T10:00:00Z",
            1,
            {
                "Image": "C:\\Windows\\System32\\mshta.exe",
                "CommandLine": cmd,
                "ParentImage": "C:\\Windows\\System32\\svchost.exe",
                "User": "CORP\\adm",
                "ProcessId": pid,
            },
            channel=SYSMON,
        )

    lines = [
        start("C:\\Windows\\System32\\mshta.exe -Embedding", "4242"),
        start('"C:\\Windows\\System32\\mshta.exe" "C:\\Users\\a\\help.hta"', "4343"),
    ]
    hits = _by(_scan_lines(tmp_path, lines), "DQ-HOST-015")
    assert [(f.severity, _d(f)["reasons"]) for f in hits] == [
        ("high", "mshta.exe started by DCOM (-Embedding): LethalHTA")
    ]


def test_a_shell_after_a_local_or_anonymous_logon_is_not_dcom(tmp_path: Path) -> None:
    """The DCOM ShellWindows rule needs a network logon of an account from another machine:
    a type 3 logon from the host itself (127.0.0.1, ::1, '-') or an ANONYMOUS LOGON null
    session from another address is no such logon, and the user's prompt after it stays
    quiet."""

    def logon(user: str, ip: str) -> str:
        return event_line(
            "2024-03-05T10:00:00Z",
            4624,
            {"LogonType": "3", "TargetLogonId": "0x91", "TargetUserName": user, "IpAddress": ip},
        )

    shell = event_line(
        "2024-03-05T10:00:30Z",
        1,
        {
            "Image": "C:\\Windows\\System32\\cmd.exe",
            "CommandLine": "cmd.exe /c whoami",
            "ParentImage": "C:\\Windows\\explorer.exe",
            "User": "WS07\\alice",
        },
        channel=SYSMON,
    )
    for user, ip in (
        ("adm", "127.0.0.1"),
        ("adm", "::1"),
        ("adm", "-"),
        ("ANONYMOUS LOGON", "10.9.0.5"),
    ):
        sub = tmp_path / f"{user}-{ip}".replace(":", "_").replace(" ", "_")
        sub.mkdir()
        assert _by(_scan_lines(sub, [logon(user, ip), shell]), "DQ-HOST-015") == [], (user, ip)
    # the same prompt after adm's logon from another machine is the rule's case
    other = tmp_path / "other"
    other.mkdir()
    assert len(_by(_scan_lines(other, [logon("adm", "10.9.0.5"), shell]), "DQ-HOST-015")) == 1
