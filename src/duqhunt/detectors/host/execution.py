"""Remote execution and alternate credentials seen in process creation, PowerShell, WMI and
logon events: one process model over Security 4688 and Sysmon 1, PowerShell script blocks
reassembled from their 4104 parts, and the logon fields pass-the-hash leaves (4624 logon type,
logon process, authentication package, key length)."""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace

from duqhunt.detectors.host.base import HostContext, HostDetector
from duqhunt.detectors.host.events import EXEC_EXT, LOCAL_ADDRESSES, SHELLS, _logon_id
from duqhunt.model import Evidence, Finding, iso_utc
from duqhunt.model.finding import Severity, Stage
from duqhunt.sources.host.eventlog import SYSTEM_FOLDERS, HostEvent


def _base(path: str) -> str:
    return re.split(r"[\\/]", path.strip().strip('"'))[-1].lower()


def _pid(v: str) -> str:
    """4688 writes process ids in hex (0x1548), Sysmon in decimal: one form for both."""
    v = v.strip().lower()
    try:
        return str(int(v, 16) if v.startswith("0x") else int(v))
    except ValueError:
        return v


@dataclass(frozen=True, slots=True)
class Process:
    """One process start, from Security 4688 or Sysmon 1."""

    event: HostEvent
    image: str
    command: str
    parent_image: str
    parent_command: str
    user: str
    logon_id: str
    pid: str
    ppid: str

    @property
    def name(self) -> str:
        return _base(self.image)

    @property
    def parent(self) -> str:
        return _base(self.parent_image)


def processes(events: list[HostEvent]) -> list[Process]:
    """Every process start in time order. A 4688 written before Windows 10 names no parent
    image: it is found from the creator's process id among earlier starts on that computer."""
    out: list[Process] = []
    last: dict[tuple[str, str], Process] = {}
    for ev in sorted(events, key=lambda e: (e.time, e.record_id)):
        if ev.event_id == 4688 and ev.channel in ("Security", ""):
            target = ev.get("TargetUserName")
            user = target if target and target != "-" else ev.get("SubjectUserName")
            lid = ev.get("TargetLogonId")
            if not lid or _logon_id(lid) == "0x0":
                lid = ev.get("SubjectLogonId")
            ppid = _pid(ev.get("ProcessId"))
            parent = ev.get("ParentProcessName")
            if not parent:
                known = last.get((ev.computer.lower(), ppid))
                parent = known.image if known else ""
            p = Process(
                ev,
                ev.get("NewProcessName"),
                ev.get("CommandLine"),
                parent,
                "",
                user,
                _logon_id(lid),
                _pid(ev.get("NewProcessId")),
                ppid,
            )
        elif ev.event_id == 1 and "sysmon" in ev.channel.lower():
            p = Process(
                ev,
                ev.get("Image"),
                ev.get("CommandLine"),
                ev.get("ParentImage"),
                ev.get("ParentCommandLine"),
                ev.get("User"),
                _logon_id(ev.get("LogonId")),
                _pid(ev.get("ProcessId")),
                _pid(ev.get("ParentProcessId")),
            )
        else:
            continue
        out.append(p)
        if p.pid:
            last[(ev.computer.lower(), p.pid)] = p
    return out


def script_blocks(events: list[HostEvent]) -> list[tuple[HostEvent, str]]:
    """PowerShell 4104 script blocks, a long block's parts joined in MessageNumber order; the
    first part's event stands for the block."""
    parts: dict[tuple[str, str], list[tuple[int, HostEvent]]] = defaultdict(list)
    for ev in events:
        if ev.event_id != 4104 or "powershell" not in ev.channel.lower():
            continue
        bid = ev.get("ScriptBlockId") or f"record-{ev.record_id}"
        try:
            n = int(ev.get("MessageNumber") or 1)
        except ValueError:
            n = 1
        parts[(ev.computer.lower(), bid)].append((n, ev))
    out = []
    for blocks in parts.values():
        blocks.sort(key=lambda x: x[0])
        out.append((blocks[0][1], "".join(e.get("ScriptBlockText") for _, e in blocks)))
    return out


_INVOCATION = re.compile(r"CommandInvocation\(([\w-]+)\)")
_BINDING = re.compile(r'ParameterBinding\(([\w-]+)\): name="(\w+)"; value="([^"\r\n]*)"')
LOCAL_TARGETS = frozenset({"", ".", "localhost", "127.0.0.1", "::1"})


def module_invocations(events: list[HostEvent]) -> list[tuple[HostEvent, str, str]]:
    """PowerShell module logging (4103): (event, cmdlet, computer) for each cmdlet invoked
    with a ComputerName (or CimSession) bound to another host."""
    out = []
    for ev in events:
        if ev.event_id != 4103 or "powershell" not in ev.channel.lower():
            continue
        payload = ev.get("Payload")
        m = _INVOCATION.search(payload)
        if m is None:
            continue
        for cmdlet, name, value in _BINDING.findall(payload):
            target = value.strip().lower()
            if (
                cmdlet.lower() == m.group(1).lower()
                and name.lower() in ("computername", "cimsession")
                and target not in LOCAL_TARGETS
                and target != ev.computer.lower().split(".")[0]
                and target != ev.computer.lower()
            ):
                out.append((ev, m.group(1), value.strip()))
                break
    return out


@dataclass(frozen=True, slots=True)
class Technique:
    label: str
    attack: tuple[str, ...]
    stage: Stage


WMI = Technique("WMI remote execution", ("T1047",), "lateral-movement")
DCOM = Technique("DCOM remote execution", ("T1021.003",), "lateral-movement")
WINRM = Technique("WinRM / PowerShell remoting", ("T1021.006",), "lateral-movement")
SERVICE = Technique("remote service execution", ("T1569.002", "T1021.002"), "lateral-movement")
TASK = Technique("remote scheduled task", ("T1053.005",), "lateral-movement")
SHARE = Technique("admin share mapped", ("T1021.002",), "lateral-movement")
SQL = Technique("SQL Server xp_cmdshell", ("T1505.001",), "installation")
WEB = Technique("web shell", ("T1505.003",), "installation")
SHARE_WRITE = Technique("program copied over SMB", ("T1570", "T1021.002"), "lateral-movement")
WMI_PERSIST = Technique("WMI event subscription", ("T1546.003",), "installation")
ONWARD = Technique("onward movement", ("T1021",), "lateral-movement")
# what a connection to an internal host's port is for: SMB, RPC endpoint mapper (WMI, DCOM,
# services, tasks), WinRM
ADMIN_PORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "445": ("SMB", ("T1021.002",)),
    "135": ("RPC (WMI, DCOM, services, tasks)", ("T1021.003", "T1047")),
    "5985": ("WinRM", ("T1021.006",)),
    "5986": ("WinRM", ("T1021.006",)),
}

# A program whose children are remote execution: the host process of a technique. Children
# that these hosts start in normal operation (crash reporting, console hosts) are not counted.
PARENTS: dict[str, Technique] = {
    "wmiprvse.exe": WMI,
    "mmc.exe": DCOM,
    "wsmprovhost.exe": WINRM,
    "winrshost.exe": WINRM,
    "psexesvc.exe": SERVICE,
    "remcomsvc.exe": SERVICE,
    "paexecsvc.exe": SERVICE,
    "csexecsvc.exe": SERVICE,
    "sqlservr.exe": SQL,
    "w3wp.exe": WEB,
}
# parents that start services or programs all day: only a shell below them is odd
SHELL_ONLY = frozenset({"services.exe", "sqlservr.exe", "w3wp.exe", "mmc.exe"})
ROUTINE_CHILDREN = frozenset({"conhost.exe", "werfault.exe", "wmiprvse.exe", "wmiadap.exe"})

# (needles, pattern over a command line or script block, technique, severity, what it means):
# a process start is decoded only when it names a program of sources/host/eventlog's
# PROCESS_NAMES or holds one of its PROCESS_KEYWORDS; the needles are the names or keywords a
# record must hold for the pattern to match (a test checks the lists cover them)
COMMAND_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], Technique, Severity, str], ...] = (
    (
        ("127.0.0.1\\\\",),
        re.compile(r"1?>\s*\\\\127\.0\.0\.1\\(admin\$|[a-z]\$)\\\S+\s+2>&1", re.I),
        WMI,
        "high",
        "output redirected to a file on its own admin share (impacket wmiexec/dcomexec/smbexec)",
    ),
    (
        ("wmic",),
        re.compile(r"\bwmic(\.exe)?\b.*?/node:\s*\"?(?!(localhost|127\.0\.0\.1|\.)[\s\"])\S", re.I),
        WMI,
        "medium",
        "wmic run against another host (/node:)",
    ),
    (
        ("computername",),
        re.compile(
            r"invoke-wmimethod\b.*-computername|win32_process.*\bcreate\b.*-computername", re.I
        ),
        WMI,
        "medium",
        "WMI process creation on another host",
    ),
    (
        ("gettypefrom",),
        re.compile(
            r"gettypefromprogid\(\s*[\"'](mmc20\.application|shell\.application)[^\"']*[\"']\s*,"
            r"|gettypefromclsid\(.*(49b2791a-b1ae-4c90-9b8e-e860ba07f889|9ba05972-f6a8-11cf-a442-"
            r"00a0c90a8f39|c08afd90-f2a1-11d1-8455-00a0c91f3880)[^)]*,",
            re.I,
        ),
        DCOM,
        "high",
        "DCOM object (MMC20, ShellWindows, ShellBrowserWindow) instantiated on another host",
    ),
    (
        ("computername",),
        re.compile(r"\b(invoke-command|new-pssession|enter-pssession)\b.*-computername", re.I),
        WINRM,
        "medium",
        "PowerShell remoting to another host",
    ),
    (
        ("winrs",),
        re.compile(r"\bwinrs(\.exe)?\b.*-r(emote)?:", re.I),
        WINRM,
        "medium",
        "winrs command on another host",
    ),
    (
        ("sc",),
        re.compile(r"\bsc(\.exe)?\"?\s+\\\\\S+\s+(create|config|start)\b", re.I),
        SERVICE,
        "medium",
        "service created or started on another host (sc \\\\host)",
    ),
    (
        ("psexec", "psexec64", "paexec"),
        re.compile(r"\b(psexec|paexec|psexec64)(\.exe)?\"?\s.*\\\\\S+", re.I),
        SERVICE,
        "medium",
        "PsExec-family tool pointed at another host",
    ),
    (
        ("schtasks",),
        re.compile(r"\bschtasks(\.exe)?\b.*/create\b.*\s/s\s+\S+", re.I),
        TASK,
        "medium",
        "scheduled task created on another host (schtasks /s)",
    ),
    (
        ("net", "net1"),
        re.compile(r"\bnet1?(\.exe)?\"?\s+use\s+(\S+:\s+)?\\\\[^\\\s]+\\(admin\$|[a-z]\$)", re.I),
        SHARE,
        "medium",
        "admin share of another host mapped (net use)",
    ),
)


class RemoteExecution(HostDetector):
    """Remote execution seen in process creation (Security 4688, Sysmon 1) and PowerShell
    script blocks (4104), on both ends.

    Target side: a shell or other program started by the host process of a remote-execution
    technique: WmiPrvSE.exe (WMI: wmiexec, wmic /node, WMImplant), mmc.exe (DCOM
    MMC20.Application), explorer.exe within 120 s after a network logon (DCOM ShellWindows,
    ShellBrowserWindow), mshta.exe -Embedding (DCOM LethalHTA), wsmprovhost.exe/winrshost.exe
    (WinRM), PSEXESVC/RemComSvc/PAExec (service), services.exe running cmd or PowerShell
    directly (smbexec), sqlservr.exe (xp_cmdshell) and w3wp.exe (web shell); and impacket's
    output redirection to ``\\\\127.0.0.1\\ADMIN$\\__<epoch>``. A 4688 without a parent image
    (before Windows 10) gets it from the creator's process id. A WMI event subscription
    is one finding per consumer joining Sysmon 19/20/21 and WMI-Activity 5861 (and 5857 of
    scrcons.exe: a script consumer ran), high for a command-line or script consumer; a
    temporary subscription (5860) is low, medium from another machine; System 10016 a denied remote DCOM launch
    of MMC20/ShellWindows/ShellBrowserWindow; WinRM 91 a WinRM shell; Sysmon 11 by the System
    process a program written over SMB.
    Source side: PowerShell module logging (4103) of Invoke-Command, New-PSSession,
    Enter-PSSession, Invoke-WmiMethod or Invoke-CimMethod with a ComputerName or CimSession bound
    to another host (medium); command lines and script blocks that aim at another host: wmic /node,
    Invoke-WmiMethod -ComputerName, DCOM objects created by ProgID/CLSID with a host name,
    Invoke-Command/Enter-PSSession -ComputerName, winrs -r, sc \\\\host create, PsExec \\\\host,
    schtasks /create /s, net use \\\\host\\C$.

    high: a shell under a remote-execution host, the ADMIN$\\__<epoch> redirect, a remote
    DCOM object instantiation, a permanent WMI consumer; medium: any other child of such a
    host, the source-side commands.
    Misses: logs without process auditing (4688 off, no Sysmon); command lines not logged
    (4688 without the command-line policy hides every source-side pattern); DCOM through
    explorer.exe (ShellWindows/ShellBrowserWindow), whose children look like a user's.
    False positives: administrators' remote management (SCCM runs scripts through WmiPrvSE,
    admins use Enter-PSSession and sc \\\\host); management consoles (MMC snap-ins) opening a
    command prompt.
    """

    id = "DQ-HOST-015"
    title = "Remote execution in process creation and PowerShell"
    stage = "lateral-movement"
    attack = ("T1047", "T1021.003", "T1021.006", "T1569.002", "T1053.005")
    sources = ("evtx",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out: list[Finding] = []
        for h in ctx.hosts:
            logons = _network_logons(h.events)
            for p in processes(h.events):
                hit = self._process(p) or _shell_after_logon(p, logons)
                if hit is not None:
                    tech, sev, why = hit
                    out.append(self._emit(p.event, h.host, tech, sev, why, p.command, p))
            for ev, text in script_blocks(h.events):
                for _, rx, tech, sev, why in COMMAND_RULES:
                    if rx.search(text):
                        out.append(self._emit(ev, h.host, tech, sev, why, text[:400], None))
                        break
            for ev, cmdlet, target in module_invocations(h.events):
                remoting = MODULE_CMDLETS.get(cmdlet.lower())
                if remoting is not None:
                    why = f"{cmdlet} run against {target} (module logging 4103)"
                    payload = ev.get("Payload")
                    out.append(self._emit(ev, h.host, remoting, "medium", why, payload, None))
            for ev in h.events:
                other = _other_event(ev)
                if other is not None:
                    tech, sev, why = other
                    out.append(self._emit(ev, h.host, tech, sev, why, "", None))
            for ev, p, tech, sev, why in onward_connections(h.events):
                out.append(self._emit(ev, h.host, tech, sev, why, p.command, p))
            for sub in wmi_subscriptions(h.events):
                out.append(self._emit_subscription(sub, h.host))
        return out

    def _emit_subscription(self, sub: Subscription, host: str) -> Finding:
        first = sub.events[0]
        tech = WMI_PERSIST if sub.permanent else WMI_TEMPORARY
        f = self._emit(first, host, tech, sub.severity, sub.why, sub.runs, None)
        details = dict(f.details)
        details.update(
            {
                "consumer": sub.consumer or None,
                "consumer_type": sub.kind or None,
                "filter": sub.filter_name or None,
                "query": sub.query[:1000] or None,
                "client_machine": sub.client or None,
                "event_ids": ",".join(sorted({str(e.event_id) for e in sub.events})),
            }
        )
        evidence = [
            Evidence(
                source=e.source,
                locator=f"record {e.record_id}",
                summary=f"event {e.event_id}: WMI {what}",
            )
            for e, what in zip(sub.events[:10], sub.roles[:10], strict=True)
        ]
        return f.model_copy(
            update={
                "evidence": tuple(evidence),
                "details": dict(sorted(details.items())),
                "last_seen": iso_utc(max(e.time for e in sub.events)),
            }
        )

    def _process(self, p: Process) -> tuple[Technique, Severity, str] | None:
        for _, rx, tech, sev, why in COMMAND_RULES:
            if rx.search(p.command):
                if tech is WMI and PARENTS.get(p.parent) is DCOM:
                    tech = DCOM  # dcomexec writes the same redirect through mmc.exe
                return tech, sev, why
        name, parent = p.name, p.parent
        embedding = "-embedding" in p.command.lower()
        if name == "mshta.exe" and embedding:
            return DCOM, "high", "mshta.exe started by DCOM (-Embedding): LethalHTA"
        if name == "mmc.exe" and embedding:
            return DCOM, "medium", "mmc.exe started by DCOM (-Embedding): MMC20.Application"
        host_tech = PARENTS.get(parent)
        if parent == "services.exe" and name in SHELLS:
            host_tech = SERVICE
        if host_tech is None or name in ROUTINE_CHILDREN or not name:
            return None
        if name in SHELLS:
            return host_tech, "high", f"{name} started by {parent}"
        if parent in SHELL_ONLY:
            return None
        return host_tech, "medium", f"{name} started by {parent}"

    def _emit(
        self,
        ev: HostEvent,
        host: str,
        tech: Technique,
        sev: Severity,
        why: str,
        command: str,
        p: Process | None,
    ) -> Finding:
        who = p.user if p is not None else ev.get("User") or ev.user_sid or ""
        what = f"{tech.label}: {why}"
        f = self.finding(
            (ev.computer.lower(), ev.source, ev.record_id),
            what + (f" ({who})" if who else ""),
            sev,
            0.75 if sev == "high" else 0.55,
            ev.computer or host,
            ev.time,
            ev.time,
            [
                Evidence(
                    source=ev.source,
                    locator=f"record {ev.record_id}",
                    summary=f"event {ev.event_id}: {command[:300]}",
                )
            ],
            {
                "technique": tech.label,
                "image": p.image if p else None,
                "parent_image": p.parent_image or None if p else None,
                "command": command[:1000] or None,
                "account": who or None,
                "logon_id": p.logon_id if p else None,
                "reasons": why,
                "event_id": ev.event_id,
            },
        )
        # the finding carries the technique's own ATT&CK ids and stage, not the detector's union
        return f.model_copy(update={"attack": tech.attack, "stage": tech.stage})


WMI_TEMPORARY = Technique("WMI temporary event subscription", ("T1047",), "installation")
# consumer classes that run something: a command line or a script (the other standard ones log,
# mail or write an event: what Windows' own SCM Event Log Consumer is)
_RUNNING_CONSUMERS = {
    "commandlineeventconsumer": "command line",
    "activescripteventconsumer": "script",
}
_CONSUMER_REF = re.compile(r"(\w+EventConsumer)(?:\.Name)?\s*=\s*\\?\"([^\"\\]+)", re.I)
_FILTER_REF = re.compile(r"__EventFilter(?:\.Name)?\s*=\s*\\?\"([^\"\\]+)", re.I)
_MESSAGE_FIELD = re.compile(r"(?:^|[;,]\s*)(\w+) = (.*?)(?=;|,\s*\w+ = |$)", re.S)


def _clean(v: str) -> str:
    """Sysmon quotes WMI names and doubles backslashes (`` "x"``): the plain value."""
    return v.strip().strip('"').replace("\\\\", "\\")


def _wmi_fields(ev: HostEvent) -> dict[str, str]:
    """An event's fields; for an export that kept only the rendered message (nxlog's
    ``Message``), the ``Key = value;`` pairs WMI-Activity writes there."""
    fields = dict(ev.data)
    for key, value in _MESSAGE_FIELD.findall(fields.get("Message", "")):
        fields.setdefault(key, value.strip())
    return fields


@dataclass(slots=True)
class Subscription:
    """One WMI event subscription: its consumer, filter and binding as Sysmon 19/20/21 and
    WMI-Activity 5861 report them, a 5857 of the script consumer's host, or one temporary
    subscription (5860)."""

    computer: str
    consumer: str = ""
    kind: str = ""  # command line / script / another consumer class
    runs: str = ""
    filter_name: str = ""
    query: str = ""
    client: str = ""
    permanent: bool = True
    severity: Severity = "high"
    why: str = ""
    events: list[HostEvent] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    def add(self, ev: HostEvent, role: str) -> None:
        self.events.append(ev)
        self.roles.append(role)


# Windows' own permanent subscription of older releases: BVTConsumer runs KernCap.vbs (a
# kernel capture script shipped in System32) on a performance filter
_BUILTIN_CONSUMERS = frozenset({"bvtconsumer"})


def wmi_subscriptions(events: list[HostEvent]) -> list[Subscription]:
    """WMI event subscriptions, one per computer and consumer: the consumer (Sysmon 20; the
    consumer class and name of a binding, Sysmon 21 or WMI-Activity 5861), its filter and query
    (Sysmon 19, joined through the binding or by the same name) and the 5857 of scrcons.exe
    (an ActiveScript consumer ran). Only consumers that run a command line or script are
    kept: high. A temporary subscription (5860) is one of its own: low, medium when another
    machine made it."""
    subs: dict[tuple[str, str], Subscription] = {}
    filters: dict[tuple[str, str], list[HostEvent]] = defaultdict(list)
    bound: dict[tuple[str, str], str] = {}  # (computer, consumer) -> filter name
    scripts: dict[str, list[HostEvent]] = defaultdict(list)
    temporary: list[Subscription] = []

    def sub_of(ev: HostEvent, name: str) -> Subscription:
        key = (ev.computer.lower(), name.lower())
        if key not in subs:
            subs[key] = Subscription(ev.computer, consumer=name)
        return subs[key]

    for ev in sorted(events, key=lambda e: (e.time, e.record_id)):
        channel = ev.channel.lower()
        if "sysmon" in channel and ev.event_id in (19, 20, 21):
            if ev.event_id == 19:
                filters[(ev.computer.lower(), _clean(ev.get("Name")).lower())].append(ev)
                continue
            if ev.event_id == 20:
                name = _clean(ev.get("Name"))
                kind = ev.get("Type").strip().lower()
                s = sub_of(ev, name)
                s.kind = s.kind or kind
                s.runs = s.runs or _clean(ev.get("Destination"))
                s.add(ev, f"consumer {name} ({ev.get('Operation').strip().lower() or 'seen'})")
                continue
            c = _CONSUMER_REF.search(ev.get("Consumer"))
            fm = _FILTER_REF.search(ev.get("Filter"))
            if c is None:
                continue
            s = sub_of(ev, c.group(2))
            s.kind = s.kind or _RUNNING_CONSUMERS.get(c.group(1).lower(), c.group(1))
            if fm:
                bound[(ev.computer.lower(), c.group(2).lower())] = fm.group(1)
            s.add(ev, f"binding of {c.group(2)} to filter {fm.group(1) if fm else '?'}")
        elif "wmi-activity" in channel and ev.event_id == 5861:
            fields = _wmi_fields(ev)
            text = " ".join(fields.values())
            c = _CONSUMER_REF.search(fields.get("CONSUMER") or fields.get("Consumer") or text)
            if c is None:
                continue
            s = sub_of(ev, c.group(2))
            s.kind = s.kind or _RUNNING_CONSUMERS.get(c.group(1).lower(), c.group(1))
            flt = (fields.get("ESS") or fields.get("Eventfilter") or "").split(" (")[0].strip()
            if flt:
                bound.setdefault((ev.computer.lower(), c.group(2).lower()), flt)
            qm = re.search(r'Query = "([^"]*)"', text)
            if qm and not s.query:
                s.query = qm.group(1)
            rm = re.search(r'(?:CommandLineTemplate|ScriptText) = "((?:\\"|[^"])*)"', text)
            if rm and not s.runs:
                s.runs = rm.group(1)
            s.add(ev, f"binding of {c.group(2)} (WMI-Activity 5861)")
        elif "wmi-activity" in channel and ev.event_id == 5857:
            # a provider started: only the ActiveScript consumer's host says a script ran (a
            # JSON export is not filtered before decoding, as an EVTX is)
            if "scrcons.exe" in " ".join(_wmi_fields(ev).values()).lower():
                scripts[ev.computer.lower()].append(ev)
        elif "wmi-activity" in channel and ev.event_id == 5860:
            fields = _wmi_fields(ev)
            query = fields.get("Query") or fields.get("NotificationQuery", "")
            client = (fields.get("MachineName") or fields.get("ClientMachine") or "").strip()
            user = fields.get("User") or fields.get("UserName", "")
            short = ev.computer.lower().split(".")[0]
            remote = bool(client) and client.lower().split(".")[0] not in (short, "localhost", ".")
            t = Subscription(ev.computer, query=query, client=client, permanent=False)
            t.severity = "medium" if remote else "low"
            t.why = (
                f"temporary WMI event subscription by {user or '?'}"
                + (f" from {client}" if remote else "")
                + f": {query[:160]} (runs while its program runs)"
            )
            t.add(ev, "temporary subscription (WMI-Activity 5860)")
            temporary.append(t)
    out = []
    for (computer, name), s in subs.items():
        kind = s.kind.lower()
        runs_something = kind in ("command line", "script") or kind in _RUNNING_CONSUMERS
        if not runs_something:
            continue
        if name in _BUILTIN_CONSUMERS and s.runs.lower().endswith("kerncap.vbs"):
            continue  # Windows' own, and only while it runs Windows' own script
        flt = bound.get((computer, name), s.consumer)
        for ev in filters.get((computer, flt.lower()), []):
            s.query = s.query or _clean(ev.get("Query"))
            s.add(ev, f"filter {flt}")
        s.filter_name = (
            flt if (computer, flt.lower()) in filters or (computer, name) in bound else ""
        )
        if kind in ("script", "activescripteventconsumer"):
            for ev in scripts.get(computer, []):
                s.add(ev, "ActiveScript consumer host started (scrcons.exe, 5857)")
        order = sorted(
            zip(s.events, s.roles, strict=True), key=lambda x: (x[0].time, x[0].record_id)
        )
        s.events = [e for e, _ in order]
        s.roles = [r for _, r in order]
        s.why = f"WMI event consumer {s.consumer} ({s.kind}) runs {s.runs[:120] or '?'}" + (
            f" on {s.query[:120]}" if s.query else ""
        )
        out.append(s)
    return out + temporary


# CLSIDs of the DCOM objects used to run commands on another host (MMC20.Application,
# ShellWindows, ShellBrowserWindow)
LATERAL_CLSIDS = frozenset(
    {
        "{49b2791a-b1ae-4c90-9b8e-e860ba07f889}",
        "{9ba05972-f6a8-11cf-a442-00a0c90a8f39}",
        "{c08afd90-f2a1-11d1-8455-00a0c91f3880}",
    }
)
# cmdlets of PowerShell module logging (4103) that run something on the ComputerName given
MODULE_CMDLETS: dict[str, Technique] = {
    "invoke-command": WINRM,
    "new-pssession": WINRM,
    "enter-pssession": WINRM,
    "invoke-wmimethod": WMI,
    "invoke-cimmethod": WMI,
}
# programs whose explicit-credential logon (4648) to another host is remote execution
EXPLICIT: dict[str, Technique] = {
    "wmic.exe": WMI,
    "sc.exe": SERVICE,
    "schtasks.exe": TASK,
    "psexec.exe": SERVICE,
    "psexec64.exe": SERVICE,
    "winrs.exe": WINRM,
}


# how long after a network logon a shell under explorer.exe is read as DCOM
# (ShellWindows/ShellBrowserWindow run it in the logged-on user's explorer.exe)
DCOM_EXPLORER_WINDOW = 120.0


def _network_logons(events: list[HostEvent]) -> dict[str, list[tuple[float, str, str]]]:
    """Network logons (4624 type 3) of accounts from other addresses, per computer, in time
    order: (time, account, source address)."""
    out: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
    for ev in events:
        if ev.event_id != 4624 or ev.get("LogonType").strip() != "3":
            continue
        user, ip = ev.get("TargetUserName"), ev.get("IpAddress").strip()
        if (
            not user
            or user.endswith("$")
            or user.upper() == "ANONYMOUS LOGON"
            or ip in LOCAL_ADDRESSES
        ):
            continue
        out[ev.computer.lower()].append((ev.time, user, ip))
    for v in out.values():
        v.sort()
    return out


def _shell_after_logon(
    p: Process, logons: dict[str, list[tuple[float, str, str]]]
) -> tuple[Technique, Severity, str] | None:
    """A shell started by explorer.exe shortly after a network logon: DCOM ShellWindows or
    ShellBrowserWindow (medium: a user opening a prompt at that moment reads the same)."""
    if p.parent != "explorer.exe" or p.name not in SHELLS:
        return None
    t = p.event.time
    near = [
        x for x in logons.get(p.event.computer.lower(), []) if 0 <= t - x[0] <= DCOM_EXPLORER_WINDOW
    ]
    if not near:
        return None
    when, user, ip = near[-1]
    return (
        DCOM,
        "medium",
        f"{p.name} started by explorer.exe {t - when:.0f} s after a network logon of {user} "
        f"from {ip} (ShellWindows/ShellBrowserWindow)",
    )


def _other_event(ev: HostEvent) -> tuple[Technique, Severity, str] | None:
    """Technique, severity and reason for the non-process events of remote execution."""
    channel = ev.channel.lower()
    if ev.event_id == 10016 and channel == "system":
        if ev.get("param2").lower() == "remote" and ev.get("param4").lower() in LATERAL_CLSIDS:
            src = ev.get("param9")
            return (
                DCOM,
                "medium",
                f"remote DCOM launch of {ev.get('param4')} by {ev.get('param7')} from {src} "
                "denied (MMC20/ShellWindows/ShellBrowserWindow)",
            )
    elif ev.event_id == 11 and "sysmon" in channel and _pid(ev.get("ProcessId")) == "4":
        # the System process (pid 4) writes the files SMB clients send: a program written so
        # came from another host (PsExec's PSEXESVC.exe, a payload copied to C$)
        target = ev.get("TargetFilename")
        if target.lower().endswith(EXEC_EXT):
            return (
                SHARE_WRITE,
                "high" if target.lower().endswith((".exe", ".dll", ".sys")) else "medium",
                f"program {target} written over SMB by another host",
            )
    elif ev.event_id == 91 and "winrm" in channel:
        return WINRM, "medium", "WinRM shell created on this host (WinRM 91)"
    elif ev.event_id == 4648 and channel == "security":
        tech = EXPLICIT.get(_base(ev.get("ProcessName")))
        server = ev.get("TargetServerName").strip().lower()
        if tech is not None and server not in LOCAL_ADDRESSES and server != ev.computer.lower():
            return (
                tech,
                "medium",
                f"{_base(ev.get('ProcessName'))} used explicit credentials of "
                f"{ev.get('TargetUserName')} on {ev.get('TargetServerName')}",
            )
    return None


def _system_program(image: str) -> bool:
    low = image.lower()
    return any(d in low for d in SYSTEM_FOLDERS)


def _remotely_started(p: Process) -> bool:
    """A process a remote-execution host started: a WMI, DCOM, WinRM or PsExec-style child,
    or a service program that is a shell or lives outside the system and program folders
    (svchost.exe and the in-box services talk to other hosts' SMB and RPC all day)."""
    if p.name in ROUTINE_CHILDREN or not p.name:
        return False
    if p.parent == "services.exe":
        return p.name in SHELLS or not _system_program(p.image)
    return p.parent in PARENTS and p.parent not in SHELL_ONLY


def onward_connections(
    events: list[HostEvent],
) -> list[tuple[HostEvent, Process, Technique, Severity, str]]:
    """Sysmon 3: a process started by a remote-execution host (see `_remotely_started`)
    connecting to another internal host's SMB, RPC or WinRM port: the intruder moving on from
    this host. One per process and destination; high when the process is a shell or loader."""
    started: dict[tuple[str, str], Process] = {}
    for proc in processes(events):
        started[(proc.event.computer.lower(), proc.pid)] = proc
    out = []
    seen: set[tuple[str, str, str]] = set()
    for ev in sorted(events, key=lambda e: e.time):
        if ev.event_id != 3 or "sysmon" not in ev.channel.lower():
            continue
        if ev.get("Initiated").strip().lower() != "true":
            continue
        port = ev.get("DestinationPort").strip()
        dst = ev.get("DestinationIp").strip()
        if port not in ADMIN_PORTS or dst in LOCAL_ADDRESSES or dst == ev.get("SourceIp").strip():
            continue
        try:
            addr = ipaddress.ip_address(dst)
        except ValueError:
            continue
        if not addr.is_private or addr.is_loopback:
            continue
        p = started.get((ev.computer.lower(), _pid(ev.get("ProcessId"))))
        if p is None or p.event.time > ev.time or not _remotely_started(p):
            continue
        key = (ev.computer.lower(), p.pid, dst)
        if key in seen:
            continue
        seen.add(key)
        what, attack = ADMIN_PORTS[port]
        tech = replace(ONWARD, attack=attack)
        sev: Severity = "high" if p.name in SHELLS else "medium"
        out.append(
            (
                ev,
                p,
                tech,
                sev,
                f"{p.name} (started by {p.parent}) connected to {dst}:{port} ({what})",
            )
        )
    return out


class AlternateCredentials(HostDetector):
    """Pass-the-hash and overpass-the-hash traces in logons (Security 4624).

    * Logon type 9 (NewCredentials) through the seclogo logon process: the process runs with
      other credentials for the network only. mimikatz ``sekurlsa::pth`` produces exactly this
      on the source machine; so does ``runas /netonly``.
    * Logon type 3 over NTLM with key length 0 for a named (not anonymous, not machine)
      account: a network logon without an NTLM session key, as tools that pass a hash without
      negotiating one (impacket, older pth toolkits) leave on the target.

    medium for both: an attacker's action is the likely reading, an administrator's runas
    /netonly or an old NTLM client the other.
    Misses: pass-the-hash through tools that negotiate a session key (key length 128), and
    Kerberos pass-the-ticket.
    False positives: runas /netonly; legacy NTLM clients and appliances without session
    security.
    """

    id = "DQ-HOST-016"
    title = "Pass-the-hash / alternate credentials"
    stage = "lateral-movement"
    attack = ("T1550.002",)
    sources = ("evtx",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        for h in ctx.hosts:
            for ev in h.events:
                if ev.event_id != 4624:
                    continue
                why = _pth_reason(ev)
                if not why:
                    continue
                user = ev.get("TargetUserName")
                domain = ev.get("TargetDomainName")
                account = f"{domain}\\{user}" if domain and domain != "-" else user
                src = ev.get("IpAddress") if ev.get("IpAddress") not in ("", "-") else None
                out.append(
                    self.finding(
                        (ev.computer.lower(), _logon_id(ev.get("TargetLogonId")), ev.record_id),
                        f"{account}: {why}" + (f" from {src}" if src else ""),
                        "medium",
                        0.55,
                        ev.computer or h.host,
                        ev.time,
                        ev.time,
                        [
                            Evidence(
                                source=ev.source,
                                locator=f"record {ev.record_id}",
                                summary=f"event 4624: {why}",
                            )
                        ],
                        {
                            "account": account,
                            "src": src,
                            "logon_type": ev.get("LogonType"),
                            "logon_process": ev.get("LogonProcessName").strip() or None,
                            "auth_package": ev.get("AuthenticationPackageName") or None,
                            "key_length": ev.get("KeyLength") or None,
                            "logon_id": _logon_id(ev.get("TargetLogonId")),
                            "reasons": why,
                        },
                    )
                )
        return out


def _pth_reason(ev: HostEvent) -> str:
    ltype = ev.get("LogonType").strip()
    proc = ev.get("LogonProcessName").strip().lower()
    pkg = ev.get("AuthenticationPackageName").strip().lower()
    user = ev.get("TargetUserName").strip()
    if ltype == "9" and proc == "seclogo":
        return "NewCredentials logon (type 9, seclogo): sekurlsa::pth or runas /netonly"
    if (
        ltype == "3"
        and pkg == "ntlm"
        and ev.get("KeyLength").strip() == "0"
        and user
        and user.upper() != "ANONYMOUS LOGON"
        and not user.endswith("$")
    ):
        return "NTLM network logon without a session key (key length 0)"
    return ""


_STDIO_SUFFIX = re.compile(r"-[^-\\]+-\d+-(stdin|stdout|stderr)$")


class ServedPipes(HostDetector):
    """Named pipes this host serves to other hosts over SMB that Windows does not: the host
    side of an internal relay (Duqu's workstations relayed C&C traffic for their neighbours
    through a pipe of their own) or of a pipe-based implant or remote shell.

    Sysmon 18 (pipe connected) whose image is the System process: the SMB server connecting a
    remote client to the pipe; and Security 5145 on IPC$ from another address (with the
    client's address). Pipes of content/pipes/standard.yaml (srvsvc, lsarpc, samr...) are not
    reported; the remote-execution pipes (svcctl, atsvc, PSEXESVC, RemCom...) are DQ-HOST-009's.
    One finding per computer and pipe: medium, high when the name is random-looking (a hex
    string, as Metasploit and many implants name theirs).

    In the campaign the finding joins DQ-NET-006's relay edge of the same pair of machines, or
    is an edge of its own marked as host evidence (campaign/relays.py).

    Sysmon 17 (pipe created) of the same pipe names the process that serves it (``server_image``
    and an evidence line): Duqu's relay ran inside a system process it had injected.

    Misses: a relay pipe named like a Windows pipe; hosts without Sysmon pipe events and
    without detailed file share auditing (5145); a Sysmon 17 alone (a pipe created that no
    other host was seen to reach) is not reported.
    False positives: software that serves its own pipes to the network (backup agents, SQL Server
    named-pipe clients, management agents): add them to the standard list.
    """

    id = "DQ-HOST-017"
    title = "Named pipe served to other hosts"
    stage = "internal-relay"
    attack = ("T1090.001", "T1021.002")
    sources = ("evtx",)

    def run(self, ctx: HostContext) -> list[Finding]:
        from duqhunt.content import normalise_pipe, standard_pipes
        from duqhunt.detectors.host.events import EXEC_PIPES, random_looking

        standard = standard_pipes()
        seen: dict[tuple[str, str], list[HostEvent]] = defaultdict(list)
        # Sysmon 17: the process that created (serves) each pipe
        created: dict[tuple[str, str], list[HostEvent]] = defaultdict(list)
        stdio: set[tuple[str, str]] = set()
        # pipes the share audit shows reached from this host itself (SMB over loopback): a
        # Sysmon 18 of such a pipe, which names no client, is not evidence of another host
        local: set[tuple[str, str]] = set()
        for h in ctx.hosts:
            for ev in h.events:
                remote = True
                if ev.event_id == 17 and "sysmon" in ev.channel.lower():
                    name = normalise_pipe(ev.get("PipeName")).lstrip("\\")
                    if name:
                        key = (ev.computer.lower() or h.host.lower(), _STDIO_SUFFIX.sub("", name))
                        created[key].append(ev)
                    continue
                if ev.event_id == 18 and "sysmon" in ev.channel.lower():
                    if ev.get("Image") != "System":
                        continue
                    pipe = ev.get("PipeName")
                elif ev.event_id == 5145 and ev.get("ShareName").upper().endswith("IPC$"):
                    remote = ev.get("IpAddress").strip() not in LOCAL_ADDRESSES
                    pipe = ev.get("RelativeTargetName")
                else:
                    continue
                name = normalise_pipe(pipe).lstrip("\\")
                if not name or name in standard or name.startswith(EXEC_PIPES):
                    continue
                # PsExec-style tools open <name>-<client>-<pid>-stdin/stdout/stderr beside
                # <name>: one pipe family
                bare = _STDIO_SUFFIX.sub("", name)
                key = (ev.computer.lower() or h.host.lower(), bare)
                if bare != name:
                    stdio.add(key)
                if remote:
                    seen[key].append(ev)
                else:
                    local.add(key)
        for key in local:
            if all(e.event_id == 18 for e in seen.get(key, [])):
                seen.pop(key, None)
        out = []
        for (computer, name), evs in sorted(seen.items()):
            evs.sort(key=lambda e: e.time)
            sources = sorted(
                {e.get("IpAddress") for e in evs if e.event_id == 5145 and e.get("IpAddress")}
            )
            odd = random_looking(name) or bool(re.fullmatch(r"[0-9a-f]{16,}", name))
            first = evs[0]
            makers = created.get((computer, name), [])
            servers = sorted({e.get("Image") for e in makers if e.get("Image")})
            out.append(
                self.finding(
                    (computer, name),
                    f"pipe \\{name} served to other hosts"
                    + (f" ({', '.join(sources[:3])})" if sources else "")
                    + (": random-looking name" if odd else ""),
                    "high" if odd else "medium",
                    0.7 if odd else 0.5,
                    first.computer or computer,
                    first.time,
                    evs[-1].time,
                    [
                        Evidence(
                            source=e.source,
                            locator=f"record {e.record_id}",
                            summary=f"event {e.event_id}: {name}",
                        )
                        for e in evs[:10]
                    ]
                    + [
                        Evidence(
                            source=e.source,
                            locator=f"record {e.record_id}",
                            summary=f"event 17: {name} created by {e.get('Image')}",
                        )
                        for e in makers[:2]
                    ],
                    {
                        "pipe": name,
                        # the process that serves the pipe (Sysmon 17), when the log has it
                        "server_image": ",".join(servers[:3]) or None,
                        "src": ",".join(sources) or None,
                        "connections": len(evs),
                        "random_name": odd,
                        # PsExec-style stdin/stdout/stderr pipes: a remote console, not a relay
                        "stdio_pipes": (computer, name) in stdio,
                    },
                )
            )
        return out
