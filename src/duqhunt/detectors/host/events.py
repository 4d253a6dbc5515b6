"""Event-log detectors, target side: lateral movement grouped per logon session, service
installs and scheduled tasks (with legacy At*.job files)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from duqhunt.detectors.host.base import HostContext, HostDetector, windows_path
from duqhunt.detectors.host.registry import normal_driver_path
from duqhunt.detectors.shares import is_admin_share, share_kind, share_name
from duqhunt.model import Evidence, Finding
from duqhunt.model.finding import Severity
from duqhunt.sources.host.eventlog import AUTORUN_VALUE, SHELL_NAMES, HostEvent

EXEC_EXT = (".exe", ".dll", ".sys", ".bat", ".cmd", ".ps1", ".vbs", ".scr", ".pnf", ".job")
SHELLS = frozenset(f"{n}.exe" for n in SHELL_NAMES)
EXEC_PIPES = ("svcctl", "atsvc", "psexesvc", "remcom", "paexec", "csexec", "winexesvc")


WELL_KNOWN_LOGONS = frozenset({"0x3e7", "0x3e4", "0x3e5"})
LOCAL_ADDRESSES = frozenset({"", "-", "127.0.0.1", "::1", "localhost"})
# impacket wmiexec/smbexec write each command's output to ADMIN$\__<epoch>: no extension
_REDIRECT_OUTPUT = re.compile(r"(^|\\)__\d{9,}(\.\d+)?$")
# programs that create services and tasks from a local session
LOCAL_CREATORS = frozenset({"sc.exe", "schtasks.exe", "at.exe", "mmc.exe"})


def _logon_id(v: str) -> str:
    v = v.strip().lower()
    if v.startswith("0x"):
        try:
            return hex(int(v, 16))
        except ValueError:
            return v
    return v


def _account(domain: str, user: str) -> str:
    if not user or user == "-":
        return ""
    return f"{domain}\\{user}" if domain and domain != "-" else user


@dataclass(slots=True)
class Session:
    computer: str
    logon_id: str
    logon: HostEvent | None = None
    source_ip: str = ""
    account: str = ""
    shares: list[HostEvent] = field(default_factory=list)
    services: list[HostEvent] = field(default_factory=list)
    tasks: list[HostEvent] = field(default_factory=list)
    local_tools: list[HostEvent] = field(default_factory=list)

    def times(self) -> list[float]:
        evs = [*self.shares, *self.services, *self.tasks]
        if self.logon:
            evs.append(self.logon)
        return [e.time for e in evs]


def sessions(events: list[HostEvent]) -> dict[tuple[str, str], Session]:
    out: dict[tuple[str, str], Session] = {}

    def get(ev: HostEvent, lid: str) -> Session:
        key = (ev.computer.lower(), _logon_id(lid))
        if key not in out:
            out[key] = Session(ev.computer, _logon_id(lid))
        return out[key]

    for ev in events:
        if ev.event_id == 4624:
            s = get(ev, ev.get("TargetLogonId"))
            s.logon = ev
            s.source_ip = (
                ev.get("IpAddress").strip() if ev.get("IpAddress") not in ("-", "") else s.source_ip
            )
            s.account = _account(ev.get("TargetDomainName"), ev.get("TargetUserName")) or s.account
        elif ev.event_id == 4688:
            # a local program creating services or tasks in this session: a local session
            lid = ev.get("SubjectLogonId")
            name = re.split(r"[\\/]", ev.get("NewProcessName"))[-1].lower()
            if lid and name in LOCAL_CREATORS and _logon_id(lid) not in WELL_KNOWN_LOGONS:
                get(ev, lid).local_tools.append(ev)
        elif ev.event_id in (5140, 5145, 4697, 4698, 4702):
            lid = ev.get("SubjectLogonId")
            if not lid or _logon_id(lid) == "0x0":
                continue
            if _logon_id(lid) in WELL_KNOWN_LOGONS:
                # SYSTEM, LOCAL/NETWORK SERVICE: the host's own work, unless the share was
                # reached from another address (a machine-account session of an exploit or a
                # relay): then one session per source address
                ip = ev.get("IpAddress").strip()
                if ev.event_id not in (5140, 5145) or ip in LOCAL_ADDRESSES:
                    continue
                lid = f"{_logon_id(lid)}@{ip}"
            s = get(ev, lid)
            if ev.event_id in (5140, 5145):
                s.shares.append(ev)
                ip = ev.get("IpAddress")
                if ip and ip != "-" and not s.source_ip:
                    s.source_ip = ip
            elif ev.event_id == 4697:
                s.services.append(ev)
            else:
                s.tasks.append(ev)
            if not s.account:
                s.account = _account(ev.get("SubjectDomainName"), ev.get("SubjectUserName"))
    return out


def is_local(s: Session) -> bool:
    """A session that made tasks or services with this host's own programs (schtasks.exe,
    sc.exe...) and reached it from nowhere else: no network logon, no share from another
    address. What it makes is persistence or local execution (DQ-HOST-018), not movement."""
    network = s.logon is not None and s.logon.get("LogonType").strip() == "3"
    return not network and not s.source_ip and bool(s.local_tools)


def _files(events: Iterable[HostEvent]) -> list[str]:
    return sorted({f"{_share(e)}\\{e.get('RelativeTargetName')}" for e in events})


def _share(ev: HostEvent) -> str:
    return share_name(ev.get("ShareName")) or ""


# File access rights (MS-SMB2 2.2.13.1.1 / winnt.h): what a 5145 AccessMask can ask for. Only
# WriteData and AppendData change a file's content; GENERIC_WRITE and GENERIC_ALL include them.
# ReadData (0x1), Execute (0x20), DELETE (0x10000), ReadAttributes and the like do not.
FILE_WRITE_DATA, FILE_APPEND_DATA = 0x2, 0x4
GENERIC_ALL, GENERIC_WRITE = 0x10000000, 0x40000000
WRITE_RIGHTS = FILE_WRITE_DATA | FILE_APPEND_DATA | GENERIC_ALL | GENERIC_WRITE
# the same rights as the message ids of a 5145 AccessList: %%4417 WriteData, %%4418 AppendData
WRITE_ACCESS_LIST = ("%%4417", "%%4418")


def share_access(ev: HostEvent) -> str:
    """'write', 'read' (any access that changes no content) or 'unknown' (no AccessMask or
    AccessList logged) for one 5145 detailed file share event."""
    mask = ev.get("AccessMask").strip()
    if mask:
        try:
            value = int(mask, 16) if mask.lower().startswith("0x") else int(mask)
        except ValueError:
            value = None
        if value is not None:
            return "write" if value & WRITE_RIGHTS else "read"
    rights = ev.get("AccessList")
    if rights.strip():
        return "write" if any(r in rights for r in WRITE_ACCESS_LIST) else "read"
    return "unknown"


class LateralMovementSessions(HostDetector):
    """Lateral movement seen on the target: one finding per network logon session (same
    LogonId) that touched an admin share (ADMIN$ or a drive letter C$, D$...: the one
    classification in ``detectors/shares.py``, shared with DQ-NET-005; IPC$ and hidden file
    shares such as Users$, SYSVOL, NETLOGON are not admin shares) with a program file, opened a
    remote-execution pipe over IPC$ (svcctl, atsvc, PSEXESVC...), installed a service (4697)
    or created a scheduled task (4698/4702), with the source address and account.

    A program file counts as written only when its 5145 AccessMask (or AccessList) asks for
    WriteData (0x2) or AppendData (0x4) (or GENERIC_WRITE/GENERIC_ALL): a 0x1 ReadData of
    a setup.exe under C$ is a read, never "wrote".
    high: a program written to an admin share, or a service/task created, from a network
    session; medium: a remote-execution pipe alone, or a program opened with no access logged;
    low: admin share access alone, or a program only read from it.
    Misses: sessions whose Security auditing (logon, file share, detailed share) was off;
    movement over WMI or WinRM without shares, services or tasks.
    False positives: administrators and management tools (SCCM, PsExec used by IT) doing the
    same things; judge by account, source and time.
    """

    id = "DQ-HOST-009"
    title = "Lateral movement into this host (per logon session)"
    stage = "lateral-movement"
    attack = ("T1021.002", "T1078", "T1570", "T1569.002", "T1053.005", "T1047")
    sources = ("evtx",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        for h in ctx.hosts:
            for s in sessions(h.events).values():
                if s.logon is not None and s.logon.get("LogonType") not in ("3", ""):
                    continue
                admin = [e for e in s.shares if is_admin_share(e.get("ShareName"))]
                programs = [
                    e
                    for e in admin
                    if e.event_id == 5145
                    and (
                        e.get("RelativeTargetName").lower().endswith(EXEC_EXT)
                        or _REDIRECT_OUTPUT.search(e.get("RelativeTargetName"))
                    )
                ]
                # a program file is written only when the access asked for writes its data
                # (a 5145 whose AccessMask is 0x1 ReadData reads it); no mask logged: opened
                written = _files(e for e in programs if share_access(e) == "write")
                opened = _files(e for e in programs if share_access(e) == "unknown")
                read = _files(e for e in programs if share_access(e) == "read")
                pipes = sorted(
                    {
                        e.get("RelativeTargetName")
                        for e in s.shares
                        if share_kind(e.get("ShareName")) == "ipc"
                        and e.get("RelativeTargetName").lower().startswith(EXEC_PIPES)
                    }
                )
                services = sorted({e.get("ServiceName") for e in s.services})
                tasks = sorted({e.get("TaskName") for e in s.tasks})
                if not (admin or pipes or services or tasks):
                    continue
                # without a network logon or a share reached from another address, a service
                # or task made in a session where sc.exe/schtasks.exe ran is local work
                remote = s.logon is not None or bool(s.source_ip)
                if not remote and s.local_tools:
                    continue
                sev: Severity
                if (written or services or tasks) and remote:
                    sev, conf = "high", 0.75
                elif services or tasks:
                    sev, conf = "medium", 0.5  # where it came from is not in these logs
                elif pipes or opened:
                    sev, conf = "medium", 0.55
                else:
                    sev, conf = "low", 0.3
                what = []
                if written:
                    what.append("wrote " + ", ".join(written[:3]))
                if opened:
                    what.append("opened " + ", ".join(opened[:3]) + " (access not logged)")
                if read:
                    what.append("read " + ", ".join(read[:3]))
                if services:
                    what.append("installed service " + ", ".join(services))
                if tasks:
                    what.append("created task " + ", ".join(tasks))
                if pipes:
                    what.append("opened pipe " + ", ".join(pipes[:3]))
                if not what:
                    what.append("accessed " + ", ".join(sorted({_share(e) for e in admin})))
                times = s.times()
                src = s.source_ip or ("?" if remote else "origin not in these logs")
                evs = sorted(
                    [*(x for x in [s.logon] if x), *s.shares, *s.services, *s.tasks],
                    key=lambda e: e.time,
                )
                out.append(
                    self.finding(
                        (s.computer.lower(), s.logon_id),
                        f"{s.account or '?'} from {src}: {'; '.join(what)}",
                        sev,
                        conf,
                        s.computer,
                        min(times),
                        max(times),
                        [
                            Evidence(
                                source=e.source,
                                locator=f"record {e.record_id}",
                                summary=f"event {e.event_id}",
                            )
                            for e in evs[:12]
                        ],
                        {
                            "src": src,
                            "dst": s.computer,
                            "account": s.account or None,
                            "logon_id": s.logon_id,
                            "shares": ",".join(sorted({_share(e) for e in s.shares})),
                            "files": ",".join(written[:10]) or None,
                            "opened": ",".join(opened[:10]) or None,
                            "read": ",".join(read[:10]) or None,
                            "pipes": ",".join(pipes[:10]) or None,
                            "services": ",".join(services) or None,
                            "tasks": ",".join(tasks) or None,
                            "method": "service" if services else "task" if tasks else "share",
                        },
                    )
                )
        return out


def random_looking(name: str) -> bool:
    """Names like 'xKq3vBzt' or '5bbe8cc8': short, no word structure."""
    n = name.strip()
    if not 4 <= len(n) <= 20 or not n.isalnum():
        return False
    if (
        re.fullmatch(r"[0-9a-f]{6,}", n, re.I)
        and re.search(r"\d", n)
        and re.search(r"[a-f]", n, re.I)
    ):
        return True
    letters = [c for c in n.lower() if c.isalpha()]
    vowels = sum(c in "aeiou" for c in letters)
    counts = Counter(n.lower())
    ent = -sum(c / len(n) * math.log2(c / len(n)) for c in counts.values())
    digits_mixed = bool(re.search(r"\d", n)) and bool(re.search(r"[a-z]", n, re.I))
    case_mixed = bool(re.search(r"[a-z][A-Z][a-z]?[A-Z]", n))
    return (
        len(n) >= 6
        and ent >= 2.5
        and ((letters and vowels / len(letters) < 0.2) or (digits_mixed and case_mixed))
    )


_ODD_BINARY = re.compile(
    r"(^(%systemroot%|%windir%|c:\\windows)\\[^\\]+\.exe)|\\\\|\\temp\\|\\tmp\\|admin\$|\\users\\public\\|\\programdata\\[^\\]+\.exe|%comspec%|cmd(\.exe)?\s+/c",
    re.I,
)


# A service runs as SYSTEM at boot; installers put its binary under Program Files or the
# Windows folder, never in one user's profile. A binary in someone's Desktop, Downloads,
# Documents or AppData is what an operator unpacked by hand (APT10's jjs.exe from
# \Users\<name>\Desktop\info.rar\). Public's profile and temp folders have their own rule.
_USER_PROFILE_BINARY = re.compile(
    r"\\users\\(?!public\\|default\\)[^\\]+\\(desktop|downloads|documents|appdata|music|pictures|videos)\\",
    re.I,
)


def _is_kernel(ev: HostEvent) -> bool:
    t = ev.get("ServiceType").lower()
    return "kernel" in t or "file system" in t or t in ("0x1", "0x2", "1", "2")


def service_installs(events: list[HostEvent]) -> list[HostEvent]:
    """Service installs in time order: System 7045 and Security 4697, and for a service with
    neither in the logs the Service Control Manager's own registry write of its ImagePath
    (Sysmon 13 by services.exe: on a host whose System log was not collected, the install as
    Sysmon saw it), given the 7045 field names (``ServiceName``, ``ImagePath``; a ``\\??\\``
    path, which loses the prefix, or a .sys file as a kernel driver). Sysmon writes ``%``
    doubled: one is kept."""
    installs = [e for e in events if e.event_id in (7045, 4697)]
    named = {(e.computer.lower(), e.get("ServiceName").lower()) for e in installs}
    for ev in events:
        if ev.event_id != 13 or "sysmon" not in ev.channel.lower():
            continue
        if not ev.get("Image").lower().endswith("\\services.exe"):
            continue
        m = AUTORUN_VALUE.search(ev.get("TargetObject"))
        if m is None or m.group("service") is None or not m.group(0).lower().endswith("imagepath"):
            continue
        name = m.group("service")
        if (ev.computer.lower(), name.lower()) in named:
            continue
        path = ev.get("Details").replace("%%", "%")
        low = path.lower().strip('"')
        kernel = low.startswith("\\??\\") or low.endswith(".sys")
        if kernel:  # the NT namespace prefix a driver's ImagePath holds; 7045 shows the path
            path = path.removeprefix("\\??\\")
        data = {
            **dict(ev.data),
            "ServiceName": name,
            "ImagePath": path,
            "ServiceType": "kernel mode driver" if kernel else "",
        }
        installs.append(replace(ev, data=tuple(sorted(data.items()))))
    return sorted(installs, key=lambda e: e.time)


class ServiceInstalls(HostDetector):
    """Services installed (System 7045, Security 4697; for a service with neither, the Service
    Control Manager's Sysmon 13 of its ImagePath) that look like remote execution or an
    implant: remote-execution tool names (PSEXESVC, PAExec...), random-looking names,
    binaries straight in the Windows folder, in temp folders or on shares, command lines run
    through cmd /c, kernel drivers from outside System32\\drivers, Duqu driver names.

    Misses: implants installed with plausible names and paths (Duqu used vendor-like names:
    see DQ-HOST-003/006).
    False positives: administrators' PsExec; software installers that register drivers from
    their own folders (npcap, VirtualBox): kernel drivers in Program Files are reported low.
    """

    id = "DQ-HOST-010"
    title = "Suspicious service installation"
    stage = "lateral-movement"
    attack = ("T1569.002", "T1543.003")
    sources = ("evtx",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        rexec = tuple(n.lower() for n in ctx.pack.remote_exec_services)
        duqu_drivers = {f.name.lower(): f.confidence for f in ctx.pack.files if f.kind == "driver"}
        for h in ctx.hosts:
            seen: set[tuple[str, str, str]] = set()
            for ev in service_installs(h.events):
                name = ev.get("ServiceName")
                path = ev.get("ImagePath") or ev.get("ServiceFileName")
                key = (ev.computer.lower(), name.lower(), path.lower())
                if key in seen or ctx.known_good.match(name, path) is not None:
                    continue
                seen.add(key)
                why: list[str] = []
                sev: Severity = "info"
                low_path = path.lower().strip('"')
                fname = low_path.rsplit("\\", 1)[-1]
                kernel = _is_kernel(ev)
                if fname in duqu_drivers:
                    why.append(f"Duqu driver {fname}")
                    sev = "critical"
                if name.lower().startswith(rexec):
                    why.append("remote-execution tool service")
                    sev = max(sev, "medium", key=_rank)
                if random_looking(name):
                    why.append("random-looking service name")
                    sev = max(sev, "medium", key=_rank)
                if low_path and not re.search(r"[\\/]", low_path):
                    # 'cmd.exe', 'calc.exe': a bare program name, found through the search path;
                    # installers write full paths, remote-execution tools often do not
                    why.append("ImagePath is a bare program name")
                    sev = max(sev, "medium", key=_rank)
                    if (fname.split() or [""])[0] in SHELLS:
                        why.append("the service runs a shell or system tool")
                odd = _ODD_BINARY.search(low_path) is not None
                if odd:
                    why.append(
                        "binary in the Windows folder, a temp folder, a share or run via cmd"
                    )
                    sev = max(sev, "medium", key=_rank)
                if not kernel and not odd and _USER_PROFILE_BINARY.search(low_path):
                    # one fact, one reason: a profile's Temp folder is the rule above; drivers
                    # from odd folders have the driver rule below
                    why.append("binary in a user's profile folder")
                    sev = max(sev, "medium", key=_rank)
                if kernel and not normal_driver_path(path):
                    in_pf = "\\program files" in low_path
                    why.append("kernel driver outside System32\\drivers")
                    sev = max(sev, "low" if in_pf else "medium", key=_rank)
                elif not kernel and low_path and not why and re.match(r"^[d-z]:\\", low_path):
                    why.append("service binary on a non-system drive")
                    sev = "low"
                if not why:
                    continue
                if len(why) >= 2 and sev == "medium":
                    sev = "high"
                account = _account(ev.get("SubjectDomainName"), ev.get("SubjectUserName"))
                out.append(
                    self.finding(
                        key,
                        f"service {name} installed: {'; '.join(why)}",
                        sev,
                        0.3 + 0.15 * len(why),
                        ev.computer or h.host,
                        ev.time,
                        ev.time,
                        [
                            Evidence(
                                source=ev.source,
                                locator=f"record {ev.record_id}",
                                summary=f"event {ev.event_id}: {path}",
                            )
                        ],
                        {
                            "service": name,
                            "image_path": path,
                            "kernel": kernel,
                            "account": account
                            or ev.get("AccountName")
                            or ev.get("ServiceAccount")
                            or None,
                            "installer_sid": ev.user_sid,
                            "reasons": "; ".join(why),
                            "event_id": ev.event_id,
                        },
                    )
                )
            out.extend(self._failed_starts(h.events, h.host))
        return out

    def _failed_starts(self, events: list[HostEvent], host: str) -> list[Finding]:
        """A service with a random-looking name that timed out or failed to start (System
        7009, 7000): what a remote-execution payload that is no service leaves (Metasploit
        psexec, Tchopper), often with no 7045 kept."""
        out = []
        for ev in events:
            if ev.event_id not in (7000, 7009) or ev.channel not in ("System", ""):
                continue
            name = ev.get("param2") if ev.event_id == 7009 else ev.get("param1")
            if not random_looking(name):
                continue
            out.append(
                self.finding(
                    (ev.computer.lower(), name.lower(), "start-failed"),
                    f"service {name} failed to start: random-looking service name",
                    "medium",
                    0.45,
                    ev.computer or host,
                    ev.time,
                    ev.time,
                    [
                        Evidence(
                            source=ev.source,
                            locator=f"record {ev.record_id}",
                            summary=f"event {ev.event_id}: {name}",
                        )
                    ],
                    {
                        "service": name,
                        "reasons": "random-looking name, failed start",
                        "event_id": ev.event_id,
                    },
                )
            )
        return out


def _rank(s: str) -> int:
    return ("info", "low", "medium", "high", "critical").index(s)


_CMD_RE = re.compile(r"<Command>(.*?)</Command>(?:\s*<Arguments>(.*?)</Arguments>)?", re.S | re.I)


class ScheduledTasks(HostDetector):
    """Scheduled tasks created remotely or looking like At-style spreading: Security 4698/4702,
    TaskScheduler 106, and legacy Windows\\Tasks\\*.job files. Reported when the task is an
    At<n> job, created from a network logon session, or runs something from a temp folder, a
    share or the Windows folder directly.

    Misses: tasks created and deleted while the Security log did not audit task changes, and
    whose .job file was removed.
    False positives: management software that creates At-named jobs; updaters in temp folders.
    """

    id = "DQ-HOST-011"
    title = "Suspicious scheduled task"
    stage = "lateral-movement"
    attack = ("T1053.005", "T1053.002")
    sources = ("evtx", "files")

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        for h in ctx.hosts:
            all_sessions = sessions(h.events)
            network = {
                (s.computer.lower(), s.logon_id): s
                for s in all_sessions.values()
                if s.logon is not None and s.logon.get("LogonType") == "3"
            }
            for ev in (e for e in h.events if e.event_id in (4698, 4702, 106)):
                key = (ev.computer.lower(), _logon_id(ev.get("SubjectLogonId")))
                if key in all_sessions and is_local(all_sessions[key]):
                    continue  # made by this host's own schtasks.exe: DQ-HOST-018's
                name = ev.get("TaskName")
                m = _CMD_RE.search(ev.get("TaskContent"))
                command = (m.group(1) + " " + (m.group(2) or "")).strip() if m else ""
                why = []
                sess = network.get((ev.computer.lower(), _logon_id(ev.get("SubjectLogonId"))))
                if sess is not None:
                    why.append(f"created from a network logon ({sess.source_ip or '?'})")
                if re.search(r"(^|\\)At\d+$", name, re.I):
                    why.append("At-style task name")
                if command and _ODD_BINARY.search(command.lower()):
                    why.append("runs a binary from an odd place")
                if not why:
                    continue
                sev: Severity = "high" if sess is not None or len(why) >= 2 else "medium"
                account = _account(
                    ev.get("SubjectDomainName"), ev.get("SubjectUserName")
                ) or ev.get("UserContext")
                out.append(
                    self.finding(
                        (ev.computer.lower(), name.lower(), ev.record_id),
                        f"task {name}: {'; '.join(why)}",
                        sev,
                        0.35 + 0.15 * len(why),
                        ev.computer or h.host,
                        ev.time,
                        ev.time,
                        [
                            Evidence(
                                source=ev.source,
                                locator=f"record {ev.record_id}",
                                summary=f"event {ev.event_id}",
                            )
                        ],
                        {
                            "task": name,
                            "command": command or None,
                            "account": account or None,
                            "src": sess.source_ip if sess else None,
                            "reasons": "; ".join(why),
                        },
                    )
                )
            for f, job in h.jobs:
                why = []
                if re.fullmatch(r"at\d+\.job", f.name.lower()):
                    why.append("At-style job file")
                target = f"{job.application} {job.parameters}".lower()
                if _ODD_BINARY.search(target):
                    why.append("runs a binary from an odd place")
                if not why:
                    continue
                out.append(
                    self.finding(
                        (f.rel.lower(),),
                        f"job {f.name}: {'; '.join(why)}",
                        "high" if len(why) >= 2 else "medium",
                        0.35 + 0.15 * len(why),
                        h.host,
                        job.last_run or f.mtime,
                        job.last_run or f.mtime,
                        [
                            Evidence(
                                source=str(f.path),
                                locator=windows_path(f.rel),
                                summary=f"{job.application} {job.parameters}",
                            )
                        ],
                        {
                            "task": f.name,
                            "command": f"{job.application} {job.parameters}".strip(),
                            "account": job.author or None,
                            "reasons": "; ".join(why),
                        },
                    )
                )
        return out
