"""Scheduled tasks and services made on the host itself: persistence and local execution, not
lateral movement (DQ-HOST-009 leaves a session with no network logon to this detector)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from duqhunt.detectors.host.base import HostContext, HostDetector
from duqhunt.detectors.host.events import (
    _CMD_RE,
    _ODD_BINARY,
    SHELLS,
    _account,
    _logon_id,
    is_local,
    sessions,
)
from duqhunt.detectors.host.execution import Process, _base, processes
from duqhunt.model import Evidence, Finding
from duqhunt.model.finding import Severity
from duqhunt.sources.host.eventlog import AUTORUN_VALUE, HostEvent

TASK_ATTACK = ("T1053.005",)
SERVICE_ATTACK = ("T1543.003",)
RUN_KEY_ATTACK = ("T1547.001",)
WINLOGON_ATTACK = ("T1547.004",)
IFEO_ATTACK = ("T1546.012",)
WMI_ATTACK = ("T1047",)
ATTACK_OF = {
    "task": TASK_ATTACK,
    "service": SERVICE_ATTACK,
    "run-key": RUN_KEY_ATTACK,
    "winlogon": WINLOGON_ATTACK,
    "ifeo": IFEO_ATTACK,
}
# what each kind of autostart is called in a finding's title
WHAT = {
    "task": "task",
    "service": "service",
    "run-key": "Run key value",
    "winlogon": "Winlogon value",
    "ifeo": "Image File Execution Options hijack of",
}
# Winlogon's own values (lower case, spaces and a trailing comma aside): Windows and Group
# Policy write them back on updates; only another value is a change
_WINLOGON_DEFAULT = frozenset(
    {"c:\\windows\\system32\\userinit.exe", "userinit.exe", "explorer.exe", "explorer"}
)
# programs the logon screen starts as SYSTEM before anyone logs on (sticky keys, utility
# manager...): a debugger set for one of them is a SYSTEM shell at the logon screen
_ACCESSIBILITY = frozenset(
    f"{n}.exe"
    for n in ("sethc", "utilman", "osk", "magnify", "narrator", "displayswitch", "atbroker")
)
# folders a user or any process can write: a SYSTEM task or a service running from one is
# a privilege an attacker gave himself, not an installer's work
_WRITABLE = re.compile(
    r"\\(temp|tmp)\\|\\windows\\tasks\\|\\appdata\\|\\users\\public\\|\\programdata\\|%temp%|%appdata%|"
    r"%localappdata%|%public%|%programdata%|\\downloads\\|\\desktop\\|^[a-z]:\\[^\\]+\.\w+$",
    re.I,
)
_SCRIPT = re.compile(r"\.(bat|cmd|ps1|vbs|vbe|js|jse|wsf|hta|sct)\b", re.I)
# programs that run what they are given (a script, a URL, a DLL export): a task or service that
# runs one is a loader, where an installer's task runs the vendor's own program
_LOADERS = frozenset(
    f"{n}.exe"
    for n in ("mshta", "rundll32", "regsvr32", "cscript", "wscript", "powershell", "pwsh",
              "msiexec", "certutil", "bitsadmin", "cmd")
)  # fmt: skip
_URL = re.compile(r"\bhttps?://", re.I)
_SYSTEM = re.compile(r"^(system|nt authority\\system|s-1-5-18|localsystem|\.\\localsystem)$", re.I)
# creator commands: which creates what, and the value that says what it will run
_SERVICE_REG = re.compile(
    r"\\services\\([^\\\"\s]+)\"?\s.*?/v\s+\"?(imagepath|failurecommand|servicedll)\"?"
    r".*?/d\s+(\"[^\"]*\"|\S+)",
    re.I,
)


@dataclass(slots=True)
class Creation:
    """One task or service made on this host, from its creator's command line, its
    registration event, or both."""

    kind: str  # task / service / run-key / winlogon / ifeo
    computer: str
    name: str
    runs: str = ""
    run_as: str = ""
    account: str = ""
    creator: str = ""
    xml: str = ""  # schtasks /create /xml FILE: the task's definition came from this file
    via_wmi: bool = False  # written by WmiPrvSE.exe: WMI's StdRegProv, from a script or a host
    time: float = 0.0
    events: list[HostEvent] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def _args(command: str) -> list[str]:
    try:
        return shlex.split(command.replace("\\", "\\\\"), posix=True)
    except ValueError:
        return command.split()


def _opt(args: list[str], *names: str) -> str:
    """The value after an option; schtasks takes ``-tn`` as well as ``/tn``."""
    low = ["/" + a[1:].lower() if a.startswith("-") else a.lower() for a in args]
    for n in names:
        if n in low:
            i = low.index(n)
            return args[i + 1] if i + 1 < len(args) else ""
    return ""


def _sc_value(command: str, key: str) -> str:
    """``binpath= "x y"``, ``binPath="x"``, ``command= x``: sc.exe's key= value syntax."""
    m = re.search(rf"\b{key}=\s*(\"(?:\\\"|[^\"])*\"|\S+)", command, re.I)
    return m.group(1).strip('"').replace('\\"', '"') if m else ""


def _from_command(p: Process) -> Creation | None:
    """A task or service a local command line creates or changes (schtasks /create, at,
    sc create/config/failure, reg add ...\\Services\\X /v ImagePath); None for anything else,
    and for one aimed at another host (DQ-HOST-015's)."""
    cmd = p.command
    args = _args(cmd)
    if any(a.lower() in ("/s", "-s") for a in args) or any(a.startswith("\\\\") for a in args[1:3]):
        return None  # schtasks /s host, sc \\host, at \\host, reg add \\host\HKLM
    low = cmd.lower()
    name = p.name
    c: Creation | None = None
    if name == "schtasks.exe" and re.search(r"\s[/-](create|change)\b", low):
        xml = _opt(args, "/xml")
        c = Creation(
            "task",
            p.event.computer,
            _opt(args, "/tn"),
            runs=_opt(args, "/tr"),
            run_as=_opt(args, "/ru"),
            xml=xml,
        )
    elif name == "at.exe" and len(args) > 2:
        # at [\\host] time [/interactive] [/every:..] command: the job runs as SYSTEM
        rest = [a for a in args[2:] if not a.startswith("/")]
        c = Creation("task", p.event.computer, "At job", runs=" ".join(rest), run_as="SYSTEM")
    elif name == "sc.exe" and len(args) > 2 and args[1].lower() in ("create", "config", "failure"):
        runs = _sc_value(cmd, "binpath") or _sc_value(cmd, "command")
        if not runs:
            return None
        c = Creation(
            "service",
            p.event.computer,
            args[2],
            runs=runs,
            run_as=_sc_value(cmd, "obj") or "LocalSystem",
        )
    elif name == "reg.exe" and (m := _SERVICE_REG.search(cmd)):
        c = Creation("service", p.event.computer, m.group(1), runs=m.group(3).strip('"'), run_as="")
    if c is None:
        return None
    c.account, c.creator, c.time = p.user, p.parent, p.event.time
    c.events.append(p.event)
    c.commands.append(cmd)
    return c


def _from_event(ev: HostEvent) -> Creation | None:
    if ev.event_id in (4698, 4702):
        content = ev.get("TaskContent")
        m = _CMD_RE.search(content)
        runs = (m.group(1) + " " + (m.group(2) or "")).strip() if m else ""
        user = re.search(r"<UserId>(.*?)</UserId>", content, re.S)
        ctx = re.search(r'<Actions Context="(\w+)"', content)
        run_as = (user.group(1) if user else "") or (
            "SYSTEM" if ctx and ctx.group(1).lower() == "localsystem" else ""
        )
        kind, name = "task", ev.get("TaskName")
    elif ev.event_id == 4697:
        runs, run_as = ev.get("ServiceFileName"), ev.get("ServiceAccount")
        kind, name = "service", ev.get("ServiceName")
    else:
        return None
    return Creation(
        kind,
        ev.computer,
        name,
        runs=runs.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&"),
        run_as=run_as,
        account=_account(ev.get("SubjectDomainName"), ev.get("SubjectUserName")),
        time=ev.time,
        events=[ev],
    )


def _from_registry(ev: HostEvent) -> Creation | None:
    """A Sysmon 13 that sets an autostart value (eventlog.AUTORUN_VALUE). The Service Control
    Manager's own write (services.exe, on every install) is left to DQ-HOST-010's 7045;
    Winlogon's default Userinit and Shell, which Windows writes back, are no change."""
    if "sysmon" not in ev.channel.lower() or ev.get("EventType") not in ("SetValue", ""):
        return None
    m = AUTORUN_VALUE.search(ev.get("TargetObject"))
    writer = _base(ev.get("Image"))
    if m is None or writer == "services.exe":
        return None
    runs = ev.get("Details")
    groups = m.groupdict()
    if groups["winlogon"] is not None:
        kind, name = "winlogon", groups["winlogon"]
        if runs.strip().strip('"').rstrip(", ").lower() in _WINLOGON_DEFAULT:
            return None
    elif groups["ifeo"] is not None or groups["exit"] is not None:
        kind, name = "ifeo", groups["ifeo"] or groups["exit"] or ""
    elif groups["service"] is not None:
        kind, name = "service", groups["service"]
    else:
        kind, name = "run-key", groups["run"] or ""
    return Creation(
        kind,
        ev.computer,
        name,
        runs=runs,
        account=ev.get("User"),
        creator=writer,
        time=ev.time,
        events=[ev],
        via_wmi=writer == "wmiprvse.exe",
    )


_URL_REASON = "runs content from a URL"
_HIDDEN_REASON = "a Run value with no visible name (hidden)"
_WMI_REASON = "written through WMI (StdRegProv: a script or another host)"
_LOGON_SCREEN_REASON = "an accessibility program of the logon screen (runs as SYSTEM before logon)"
_WINLOGON_REASON = "Winlogon's Userinit or Shell changed from Windows' own (runs at every logon)"
_IFEO_REASON = "a debugger or exit monitor of another program (runs in its place or when it exits)"
_HIDDEN_PS_REASON = "PowerShell with a hidden window or an encoded command"
# powershell -w hidden, -WindowStyle Hidden, -enc, -EncodedCommand, -ec: what a launcher hides
_HIDDEN_PS = re.compile(r"\s-(w|win|windowstyle)\s+hid|\s-(e|ec|enc|encodedcommand)\s", re.I)
# reasons that make any second one high: no installer does these
_STRONG = frozenset(
    {
        _URL_REASON,
        _HIDDEN_REASON,
        _WMI_REASON,
        _LOGON_SCREEN_REASON,
        _WINLOGON_REASON,
        _IFEO_REASON,
        _HIDDEN_PS_REASON,
    }
)


def _assess(c: Creation) -> tuple[Severity, list[str]]:
    runs = c.runs.strip()
    low = runs.lower()
    first = _program(runs)
    program = _base(first)
    if program and "." not in program:
        program += ".exe"  # 'cmd', 'mshta': found through the search path
    why: list[str] = []
    if c.kind == "ifeo":
        # a debugger (or exit monitor) of another program: an installer has no reason to set one
        why.append(_IFEO_REASON)
        if c.name.lower() in _ACCESSIBILITY:
            why.append(_LOGON_SCREEN_REASON)
    elif c.kind == "winlogon":
        why.append(_WINLOGON_REASON)
    if _URL.search(low):
        why.append(_URL_REASON)
    if program in _LOADERS or program in SHELLS:
        why.append(f"runs {program or 'a shell'} (a loader or shell)")
    if "powershell" in low and _HIDDEN_PS.search(low):
        why.append(_HIDDEN_PS_REASON)
    if _SCRIPT.search(first) or (program in _LOADERS and _SCRIPT.search(low)):
        why.append("runs a script")
    if _WRITABLE.search(low) or _ODD_BINARY.search(low):
        why.append("runs from a temp, user or writable folder")
    elif first and not re.search(r"[\\/%]", first) and program not in _LOADERS:
        why.append("a bare program name")
    if c.xml and not runs and _WRITABLE.search(c.xml):
        why.append("defined by an XML file in a temp, user or writable folder")
    # a task made by mshta or rundll32 is a loader's; cmd, PowerShell and msiexec (an
    # installer registering its product's tasks) make them all day
    if c.creator in _LOADERS and c.creator not in ("cmd.exe", "powershell.exe", "msiexec.exe"):
        why.append(f"created by {c.creator}")
    if c.kind == "run-key" and not c.name.strip("\x00 "):
        why.append(_HIDDEN_REASON)
    if c.via_wmi:
        why.append(_WMI_REASON)
    sev: Severity = "low"
    if why:
        sev = "medium"
        system = _SYSTEM.match(c.run_as.strip()) is not None or (
            c.kind == "service" and not c.run_as
        )
        if system:
            why.append("runs as SYSTEM")
        if (
            len(why) >= 3
            or (system and len(why) >= 2 and why[0] != "a bare program name")
            or (len(why) >= 2 and any(r in _STRONG for r in why))
        ):
            sev = "high"
    return sev, why


class LocalPersistence(HostDetector):
    """Scheduled tasks, services and autostart registry values created on the host itself, from
    a local logon session (schtasks.exe, at.exe, sc.exe create/config/failure, reg add
    ...\\Services\\X /v ImagePath, Security 4698/4702/4697 in a session with no network logon)
    or by any program (Sysmon 13: a service's ImagePath, FailureCommand or ServiceDll, a
    Run/RunOnce value, Winlogon Userinit or Shell, an Image File Execution Options Debugger, a
    SilentProcessExit MonitorProcess): persistence or local execution, reported as installation
    (T1053.005 tasks, T1543.003 services, T1547.001 Run keys, T1547.004 Winlogon, T1546.012
    IFEO and SilentProcessExit).

    Severity by what the task or service runs: medium for a script, a loader or shell (mshta,
    rundll32, powershell, cmd...), content from a URL, a program in a temp, user or other
    writable folder, or a bare program name; high when two of those meet, or one of them runs
    as SYSTEM (a SYSTEM task running C:\\Users\\...\\Temp\\x.cmd); low otherwise (an
    administrator's task running a program from Program Files). An IFEO Debugger or exit
    monitor is medium at least (no installer sets one), high with any other reason or for an
    accessibility program of the logon screen (sethc.exe, utilman.exe...: a SYSTEM shell before
    logon); a Winlogon Userinit or Shell other than Windows' own is medium, high with another
    reason. Entries of the known-good list (content/host/known-good.yaml: vendor updaters by
    task name and program path, Process Explorer as Task Manager's debugger) are not reported.
    A task or service made from a network logon is DQ-HOST-009/011's; one aimed at another
    host (schtasks /s, sc \\\\host) is DQ-HOST-015's.

    Misses: tasks made through the COM API or PowerShell's Register-ScheduledTask /
    New-Service without a 4698/4697 (no creator command line); autostart values written with
    no Sysmon 13 (registry auditing 4657 is not read), or in places not listed (AppInit_DLLs,
    COM hijacks, Startup folder paths, Active Setup); a key created or renamed (Sysmon 12, 14)
    without its value being set.
    False positives: administrators' maintenance tasks running scripts as SYSTEM; software
    whose updater lives in ProgramData or AppData, or whose Run value does (add it to the
    known-good list); developers' IFEO debuggers (add the debugger to the known-good list).
    """

    id = "DQ-HOST-018"
    title = "Task, service or autostart value created on this host (persistence)"
    stage = "installation"
    attack = (
        *TASK_ATTACK,
        *SERVICE_ATTACK,
        *RUN_KEY_ATTACK,
        *WINLOGON_ATTACK,
        *IFEO_ATTACK,
        *WMI_ATTACK,
    )
    sources = ("evtx",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out: list[Finding] = []
        for h in ctx.hosts:
            local = local_sessions(h.events)
            made: dict[tuple[str, str, str], Creation] = {}
            for p in processes(h.events):
                c = _from_command(p)
                if c is None:
                    continue
                key = (c.computer.lower(), c.kind, _key_name(c.name))
                prev = made.setdefault(key, c)
                if prev is not c:
                    # changed again (sc config, then reg add ImagePath): the worst value counts
                    if _rank(_assess(c)[0]) > _rank(_assess(prev)[0]):
                        prev.runs, prev.run_as = c.runs, c.run_as or prev.run_as
                    prev.events.append(p.event)
                    prev.commands.append(p.command)
            for ev in h.events:
                session = (ev.computer.lower(), _logon_id(ev.get("SubjectLogonId")))
                if ev.event_id == 13:
                    reg = _from_registry(ev)
                elif ev.event_id in (4698, 4702, 4697) and session in local:
                    reg = _from_event(ev)
                else:
                    continue
                if reg is None:
                    continue
                key = (reg.computer.lower(), reg.kind, _key_name(reg.name))
                known = made.get(key)
                if known is None:
                    made[key] = reg
                else:
                    # the registration says what was stored; the command line who made it
                    known.runs = reg.runs or known.runs
                    known.run_as = reg.run_as or known.run_as
                    known.name = reg.name or known.name
                    known.via_wmi = known.via_wmi or reg.via_wmi
                    known.events.append(ev)
            for key, c in sorted(made.items(), key=lambda kv: kv[1].time):
                if ctx.known_good.match(_key_name(c.name), _program(c.runs)) is not None:
                    continue
                out.append(self._emit(c, key, h.host))
        return out

    def _emit(self, c: Creation, key: tuple[str, str, str], host: str) -> Finding:
        sev, why = _assess(c)
        what = WHAT[c.kind]
        evs = sorted(c.events, key=lambda e: e.time)
        f = self.finding(
            key,
            f"{what} {c.name or '?'} created or changed on this host"
            + (f" by {c.account}" if c.account else "")
            + (f": runs {c.runs[:120]}" if c.runs else f": from {c.xml}" if c.xml else "")
            + (f" ({'; '.join(why)})" if why else ""),
            sev,
            {"low": 0.3, "medium": 0.5}.get(sev, 0.7),
            c.computer or host,
            evs[0].time,
            evs[-1].time,
            [
                Evidence(
                    source=e.source, locator=f"record {e.record_id}", summary=f"event {e.event_id}"
                )
                for e in evs[:10]
            ],
            {
                "kind": c.kind,
                "name": c.name or None,
                "runs": c.runs[:1000] or None,
                "task_xml": c.xml or None,
                "run_as": c.run_as or None,
                "account": c.account or None,
                "creator": c.creator or None,
                "command": (c.commands[0][:1000] if c.commands else None),
                "reasons": "; ".join(why) or None,
            },
        )
        return f.model_copy(
            update={"attack": ATTACK_OF[c.kind] + (WMI_ATTACK if c.via_wmi else ())}
        )


def _rank(sev: Severity) -> int:
    return ("info", "low", "medium", "high", "critical").index(sev)


def _key_name(name: str) -> str:
    return name.strip().strip('"').lstrip("\\").lower()


_PROGRAM = re.compile(r'^"?([^"]*?\.(exe|com|bat|cmd|ps1|vbs|js|hta|dll|sys))(?=[\s"]|$)', re.I)


def _program(runs: str) -> str:
    """The program a command runs: a path with spaces needs no quotes in a task's Command."""
    m = _PROGRAM.match(runs.strip())
    if m:
        return m.group(1)
    args = _args(runs.strip())
    return args[0] if args else ""


def local_sessions(events: list[HostEvent]) -> set[tuple[str, str]]:
    """Logon sessions that made tasks or services from this host's own programs and reached it
    from nowhere else: no network logon, no share from another address."""
    return {key for key, s in sessions(events).items() if is_local(s)}
