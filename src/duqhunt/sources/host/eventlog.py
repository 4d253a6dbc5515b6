"""Windows event logs as typed events: EVTX (through the Rust-backed ``evtx`` package) and JSON
exports of events (one event a line, or a JSON array; the shape ``evtx_dump`` and most
collectors write: ``{"Event": {"System": ..., "EventData": ...}}`` or a flat record with
``EventID``, ``TimeCreated``, ``Computer`` and the event data fields).

Only the event ids the host detectors read are kept (``WANTED``; every event when the caller
passes ``wanted=None``, as the host scan does for user Sigma rules); a cheap look at each record's
text skips the rest before JSON decoding. A bad chunk or record is skipped and counted.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from duqhunt.errors import InputError
from duqhunt.safety import Deadline

# Only what a detector reads is decoded (every event is, for user Sigma rules: wanted=None).
# Security: logons (4624 type/package/key length, 4648 explicit credentials), process creation
# (4688), service and task changes, share access. System: service install/failure (7045, 7000,
# 7009) and DCOM denials (10016). Not read, so skipped before decoding: 4625 (a brute-force
# storm of failures), 4672 (privileges of every admin logon), registry key and rename events
# (12, 14: a key created or
# renamed runs nothing until a value is set, which 13 reports), and the rest of the Sysmon ids
# below only as filtered there (3, 10, 11, 13, 17, 18).
SECURITY_IDS = frozenset({4624, 4648, 4688, 4697, 4698, 4702, 5140, 5142, 5145})
SYSTEM_IDS = frozenset({7000, 7009, 7045, 10016})
TASK_IDS = frozenset({106, 129, 200, 201})
# ids that other channels reuse for unrelated events: kept only from the channel named here
# Sysmon: process creation (1), file creation (11), a pipe connected over SMB (18, only those
# whose image is the System process), a registry value set (13, only the autostart values of
# AUTORUN_VALUE: DQ-HOST-018), WMI consumer (20), network
# connection (3, only outbound to an SMB, RPC or WinRM port: DQ-HOST-015's onward movement),
# a pipe created (17: which process serves a pipe DQ-HOST-017 reports; not the local-only
# pipe families of LOCAL_PIPES), a thread started in another process (8) and a process
# opening lsass.exe (10, only those: DQ-HOST-019); a module loaded (7) only into lsass.exe (an
# SSP or password filter from elsewhere, LSASS loading a dump module: DQ-HOST-019; the image
# loads of every other process are most of a verbose Sysmon log and stay undecoded); a WMI
# event filter (19), consumer (20) and the binding that joins them (21): one WMI subscription
# finding (DQ-HOST-015)
SYSMON_IDS = frozenset({1, 3, 7, 8, 10, 11, 13, 17, 18, 19, 20, 21})
# pipes programs create by the thousand for their own processes (browsers' IPC, PowerShell
# hosts, .NET diagnostics); never what another host connects to
LOCAL_PIPES = (
    "\\\\mojo.", "\\\\chrome.", "\\\\crashpad_", "\\\\pshost.", "\\\\local\\\\",
    "\\\\dotnet-diagnostic-", "\\\\cubeb-pipe-", "\\\\gecko-crash-server-pipe.",
)  # fmt: skip
# PowerShell: script blocks (4104) and module logging (4103, only those naming a ComputerName
# or CimSession)
POWERSHELL_IDS = frozenset({4103, 4104})
# WMI-Activity: 5861, a permanent event consumer bound to a filter; 5860, a temporary
# subscription (lives while the program that made it runs: a watcher, not persistence); 5857
# only for the ActiveScript consumer's host (scrcons.exe: a script consumer ran). All joined
# into DQ-HOST-015's WMI subscription finding. Not the other 5857 (every provider a WMI query
# loads), 5858 (query errors, thousands a day) or 5859 (an event provider's own filters).
WMI_IDS = frozenset({5857, 5860, 5861})
WINRM_IDS = frozenset({91})
# TerminalServices: RemoteConnectionManager 1149 (RDP authentication succeeded),
# LocalSessionManager 21 (session logon) and 25 (reconnection): DQ-HOST-020. Sysmon reuses 21
# and 25 for other events (21: a WMI binding; 25: process tampering), so the channel decides.
RDP_IDS = frozenset({21, 25, 1149})
_CHANNELS: tuple[tuple[str, frozenset[int]], ...] = (
    ("winrm", WINRM_IDS),
    ("localsessionmanager", frozenset({21, 25})),
    ("remoteconnectionmanager", frozenset({1149})),
    ("sysmon", SYSMON_IDS),
    ("powershell", POWERSHELL_IDS),
    ("wmi-activity", WMI_IDS),
)
# the channels (lower-case parts of the channel name) each of these ids is read from; an id
# listed for two channels (21) is read from both and from no other
CHANNEL_OF: dict[int, tuple[str, ...]] = {}
for _channel, _ids in _CHANNELS:
    for _id in _ids:
        CHANNEL_OF[_id] = (*CHANNEL_OF.get(_id, ()), _channel)
# Process starts are most of a Sysmon log; a detector needs only those that involve a remote-
# execution host process, a program that creates services or tasks, or a command-line keyword
# of DQ-HOST-015 (detectors/host/execution.py: PARENTS, COMMAND_RULES; sessions() in events.py:
# LOCAL_CREATORS; tests/host/test_host_breadth.py checks these lists cover them). A Sysmon 1
# (or a 4688 that names its parent image) whose image and parent image are none of these
# programs (any case, ``.exe`` or not) and whose command line holds none of the keywords is
# not decoded. A 4688 without ParentProcessName (before Windows 10) always is: its children
# find their parent through it; so is a record whose image fields are not where evtx writes
# them (no judgement without them).
PROCESS_NAMES = frozenset(
    {
        "wmiprvse", "mmc", "wsmprovhost", "winrshost", "psexesvc", "remcomsvc", "paexec",
        "paexecsvc", "csexecsvc", "sqlservr", "w3wp", "services", "mshta", "wmic", "winrs",
        "sc", "psexec", "psexec64", "schtasks", "at", "net", "net1", "reg",
    }
)  # fmt: skip
# programs an attacker's service or remote command runs where a real service would not
# (DQ-HOST-010/015 use them as "a shell"); a shell started by explorer.exe is kept too, for
# DCOM ShellWindows/ShellBrowserWindow (DQ-HOST-015)
SHELL_NAMES = frozenset(
    {
        "cmd", "powershell", "pwsh", "mshta", "rundll32", "regsvr32", "cscript", "wscript",
        "calc", "whoami", "net", "net1", "certutil", "bitsadmin", "wmic", "notepad",
    }
)  # fmt: skip
# where Windows and installed programs live (lower case): a service program from elsewhere
# is not one an installer put there
SYSTEM_FOLDERS = ("\\windows\\system32\\", "\\windows\\syswow64\\", "\\program files")
# PowerShell starts half the processes of an admin's or a test run's day: its command lines
# count only with a remoting or DCOM keyword (lower case: the command line is lower-cased),
# or a path on the host's own shares (``\\127.0.0.1\``, JSON-escaped in the record; a bare
# 127.0.0.1 is every ``ping 127.0.0.1`` sleep of a batch file)
PROCESS_KEYWORDS = ("127.0.0.1\\\\", "computername", "gettypefrom")
# Most logons of a Security log are the system's own (SYSTEM, LOCAL SERVICE, NETWORK SERVICE
# logging on services: type 5 or 0). No detector reads them: the logon sessions of lateral
# movement and pass-the-hash are those of accounts. Skipped before decoding.
_WELL_KNOWN_TARGETS = tuple(f'"TargetLogonId":"{lid}"' for lid in ("0x3e7", "0x3e4", "0x3e5"))
WANTED = (
    SECURITY_IDS
    | SYSTEM_IDS
    | TASK_IDS
    | SYSMON_IDS
    | POWERSHELL_IDS
    | WMI_IDS
    | WINRM_IDS
    | RDP_IDS
)
MAX_BAD_RECORDS = 10_000
# Rust worker threads rendering records: one. Python takes the records one at a time and is
# the slower side; more threads measured no faster in CPU time (benchmarks/evtx_rate.py) and
# would take a core from the other stages of a scan.
EVTX_THREADS = 1
_EVENT_ID_RE = re.compile(
    r'"EventID":\s*(?:\{(?:[^{}]|\{[^{}]*\})*?"#text":\s*)?"?(\d{1,10})(?!\d)'
)
_CHANNEL_RE = re.compile(r'"Channel":\s*"([^"]*)"')
# Event times outside [1601-01-01, 9999-12-31) are not times a Windows log can hold (FILETIME
# starts in 1601) and would not convert back to a date: such a record has no usable time.
MIN_TIME = -11644473600.0
MAX_TIME = 253402214400.0


@dataclass(frozen=True, slots=True)
class HostEvent:
    """One event, flattened: event data (or user data) fields as strings."""

    time: float
    event_id: int
    channel: str
    computer: str
    record_id: int
    data: tuple[tuple[str, str], ...]
    source: str
    user_sid: str | None = None

    def get(self, key: str, default: str = "") -> str:
        for k, v in self.data:
            if k == key:
                return v
        return default


@dataclass(frozen=True, slots=True)
class EventLogRead:
    events: list[HostEvent]
    records: int
    skipped: int
    warnings: list[str]
    truncated: bool
    # why the file itself is incomplete (an EVTX cut short of the chunks its header declares);
    # "" when it is whole. A damaged file is read as far as it goes and reported as partial.
    damaged: str = ""
    # why reading stopped before the end (the event limit, the file's time budget); "" when
    # the file was read to its end
    stopped: str = ""


EVTX_SIGNATURE = b"ElfFile\0"
EVTX_CHUNK = 0x10000


def evtx_shortfall(path: Path) -> str:
    """Why an EVTX file is shorter than its header says, or "" (libevtx's format notes: the
    file header's block size at offset 40 and number of chunks at 42, then 64 KiB chunks). A
    copy cut short (a failed transfer, a full disk) loses the records of the missing chunks;
    the parser stops quietly at the end, so the header is the only witness."""
    fd = os.open(path, os.O_RDONLY)  # os calls, not a buffered file: read once per EVTX file
    try:
        size = os.fstat(fd).st_size
        head = os.read(fd, 128)
    finally:
        os.close(fd)
    if len(head) < 44 or head[:8] != EVTX_SIGNATURE:
        return ""
    header_block = int.from_bytes(head[40:42], "little") or 0x1000
    chunks = int.from_bytes(head[42:44], "little")
    want = header_block + chunks * EVTX_CHUNK
    if size < want:
        return (
            f"EVTX file cut short: its header declares {chunks} chunk(s) ({want} bytes), the file "
            f"has {size}; the records of the missing part are lost"
        )
    if size > header_block and (size - header_block) % EVTX_CHUNK:
        return f"EVTX file cut short: it ends inside a chunk ({size} bytes)"
    return ""


def parse_time(value: object) -> float | None:
    """ISO-8601 (with Z, with 7-digit fractions) or epoch seconds to epoch seconds; None when
    the value is not a time or lies outside [1601, 9999]."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            t = float(value)
        except OverflowError:
            return None
        return t if math.isfinite(t) and MIN_TIME <= t < MAX_TIME else None
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", text)
    if m:
        text = f"{m.group(1)}.{m.group(2)[:6]}{m.group(3)}"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    try:
        t = dt.timestamp()
    except (OverflowError, ValueError):  # out of range once the offset is applied
        return None
    return t if MIN_TIME <= t < MAX_TIME else None


def _scalar(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dict):
        if "#text" in v:
            return _scalar(v["#text"])
        return json.dumps(v, sort_keys=True)[:4096]
    if isinstance(v, list):
        return ",".join(_scalar(x) for x in v)[:4096]
    return str(v)[:8192]


_PLAIN = (str, int, float)


def _flatten_data(block: Any) -> dict[str, str]:
    """EventData / UserData to name -> value. UserData has one wrapper element inside."""
    out: dict[str, str] = {}
    if not isinstance(block, dict):
        return out
    if all(v is None or type(v) in _PLAIN for v in block.values()):
        # the shape evtx writes for nearly every event: flat name -> scalar, taken as is
        return {
            k: "" if v is None else str(v)[:8192]
            for k, v in block.items()
            if k[:1] != "#" and k != "Data"
        }
    data = block.get("Data")
    if isinstance(data, list):  # <Data Name="x">v</Data> list as some exporters write it
        for d in data:
            if isinstance(d, dict) and "@Name" in d:
                out[str(d["@Name"])] = _scalar(d.get("#text"))
    for k, v in block.items():
        if k.startswith("#") or k == "Data":
            continue
        if isinstance(v, dict) and "#text" not in v and k[:1].isupper() and not out:
            inner = {kk: vv for kk, vv in v.items() if not kk.startswith("#")}
            if inner and all(not isinstance(x, dict) or "#text" in x for x in inner.values()):
                out.update({kk: _scalar(vv) for kk, vv in inner.items()})
                continue
        out[k] = _scalar(v)
    return out


def _attribute(element: dict[str, Any], name: str) -> Any:
    """An XML attribute as evtx writes it (``#attributes``), or ``@name``, or ``name``."""
    attrs = element.get("#attributes")
    if isinstance(attrs, dict) and attrs.get(name):
        return attrs[name]
    return element.get(f"@{name}") or element.get(name)


def event_from_json(obj: Any, source: str, record_id: int = 0) -> HostEvent | None:
    """An event from the evtx JSON shape or a flat export; None when it has no event id."""
    if not isinstance(obj, dict):
        return None
    ev = obj.get("Event", obj)
    if not isinstance(ev, dict):
        return None
    system = ev.get("System", ev)
    if not isinstance(system, dict):
        return None
    try:
        event_id = int(_scalar(system.get("EventID")))
    except ValueError:
        return None
    tc = system.get("TimeCreated")
    if isinstance(tc, dict):
        tc = _attribute(tc, "SystemTime")
    if tc is None and ev is obj:
        # a flat record as Logstash/Elastic and nxlog ship it (the OTRF Security-Datasets):
        # ``@timestamp`` in UTC; their ``EventTime`` is the collector's local time, not used
        tc = obj.get("@timestamp")
    t = parse_time(tc)
    if t is None:
        return None
    sec = system.get("Security")
    sid = _attribute(sec, "UserID") if isinstance(sec, dict) else None
    data: dict[str, str] = {}
    for block in ("EventData", "UserData"):
        data.update(_flatten_data(ev.get(block)))
    if ev is obj and "EventData" not in obj:  # a flat record
        skip = {"EventID", "TimeCreated", "Computer", "Channel", "EventRecordID", "System"}
        data.update({k: _scalar(v) for k, v in obj.items() if k not in skip})
    rid = system.get("EventRecordID", system.get("RecordNumber", record_id))
    try:
        rid = int(_scalar(rid))
    except ValueError:
        rid = record_id
    return HostEvent(
        time=t,
        event_id=event_id,
        channel=_scalar(system.get("Channel")),
        computer=_scalar(system.get("Computer") or system.get("Hostname")),
        record_id=rid,
        data=tuple(sorted(data.items())),
        source=source,
        user_sid=_scalar(sid) if sid else None,
    )


_SCAN = json.JSONDecoder().raw_decode
_SYSTEM_KEYS = ('"Channel":"', '"Computer":"', '"SystemTime":"')
_EVENT_DATA = '"EventData":'


def _system_text(head: str, key: str) -> str | None:
    """A System string value as evtx writes it (``"Key":"value"``); None when absent or when
    it holds an escape, which the full decoder handles."""
    i = head.find(key)
    if i < 0:
        return None
    i += len(key)
    j = head.find('"', i)
    value = head[i:j]
    return None if j < 0 or "\\" in value else value


def _evtx_time(text: str) -> float | None:
    """evtx's SystemTime (``2021-04-21T09:40:32.342397Z``) to epoch seconds; other forms
    through :func:`parse_time`."""
    if len(text) == 27 and text[19] == "." and text[26] == "Z":
        try:
            t = datetime.fromisoformat(text[:26] + "+00:00").timestamp()
        except ValueError:
            return parse_time(text)
        return t if MIN_TIME <= t < MAX_TIME else None
    return parse_time(text)


def _flat_cell(v: object) -> str:
    """A flat EventData value as :func:`_flatten_data` writes it; TypeError for a nested one."""
    if v is None:
        return ""
    if type(v) in _PLAIN:
        return str(v)[:8192]
    raise TypeError("nested value")


def event_from_evtx_text(text: str, source: str, record_id: int) -> HostEvent | None:
    """One evtx JSON record as an event, the same as ``event_from_json(json.loads(text))``.
    The System block is read by string search and only the EventData object is decoded:
    decoding the whole record costs three times what the evtx package spends rendering it.
    Records of another shape (UserData, nested EventData, escaped System strings) take the
    full decoder."""
    k = text.find(_EVENT_DATA)
    if k > 0:
        head = text[:k]
        channel, computer, systime = (_system_text(head, key) for key in _SYSTEM_KEYS)
        m = _EVENT_ID_RE.search(head)
        start = k + len(_EVENT_DATA)
        if (
            m is not None
            and channel is not None
            and computer is not None
            and systime is not None
            and text.startswith("{", start)
            and '"UserData"' not in head
        ):
            try:
                block, end = _SCAN(text, start)
            except (ValueError, RecursionError):
                block, end = None, 0
            data: dict[str, str] | None = None
            if isinstance(block, dict) and text[end:] == "}}":
                try:  # one pass: a nested value (not the flat shape) raises and takes the slow path
                    data = {
                        key: v[:8192] if type(v) is str else _flat_cell(v)
                        for key, v in block.items()
                        if key[:1] != "#"
                    }
                    data.pop("Data", None)  # a list or object there is an exporter's shape
                except TypeError:
                    data = None
            if data is not None:
                t = _evtx_time(systime)
                if t is None:
                    return None
                r = head.find('"EventRecordID":')
                rid = record_id
                if r >= 0:
                    digits = (
                        head[r + 16 : r + 40].split(",", 1)[0].split("}", 1)[0].strip().strip('"')
                    )
                    rid = int(digits) if digits.isdigit() else record_id
                sid = _system_text(head, '"UserID":"')
                return HostEvent(
                    time=t,
                    event_id=int(m.group(1)),
                    channel=channel,
                    computer=computer,
                    record_id=rid,
                    data=tuple(sorted(data.items())),
                    source=source,
                    user_sid=sid or None,
                )
    return event_from_json(json.loads(text), source, record_id)


def wanted_event(event_id: int, channel: str, wanted: frozenset[int] | None) -> bool:
    """Whether a detector reads this event: its id is wanted and, for the ids several
    channels reuse (Sysmon 1 is also Application 1), it comes from the channel that means it."""
    if wanted is None:
        return True
    if event_id not in wanted:
        return False
    need = CHANNEL_OF.get(event_id)
    if need is None:
        return True
    low = channel.lower()
    return any(n in low for n in need)


def _wanted_text(text: str, wanted: frozenset[int], event_id: int | None = None) -> bool:
    """:func:`wanted_event` on a record's JSON text, before decoding it (``event_id``: the id
    the caller already found in it, not searched again)."""
    if event_id is None:
        m = _EVENT_ID_RE.search(text)
        if m is None:
            return False
        event_id = int(m.group(1))
    if event_id not in wanted:
        return False
    if event_id == 4688 and '"ParentProcessName"' in text:
        return _process_needed(text, 4688)
    if event_id == 4624 and any(w in text for w in _WELL_KNOWN_TARGETS):
        return False
    if event_id == 5145:
        return _share_needed(text)
    if event_id == 4648:  # explicit credentials: only a remote-execution tool's (DQ-HOST-015)
        start = text.find(_PROCESS_NAME_KEY)
        if start < 0:
            return True
        start += len(_PROCESS_NAME_KEY)
        value = text[start : text.find('"', start)]
        return value[value.rfind("\\") + 1 :].lower().removesuffix(".exe") in PROCESS_NAMES
    if event_id not in CHANNEL_OF:
        return True
    if event_id == 7:
        # an image load: only into lsass.exe. Looked at before the channel: a verbose Sysmon
        # log holds thousands, and a plain find costs less than the channel's search
        start = text.find(_LOADER_KEY)
        end = text.find('"', start + len(_LOADER_KEY)) if start >= 0 else -1
        if start < 0 or not text[start:end].lower().endswith("\\\\lsass.exe"):
            return False
    c = _CHANNEL_RE.search(text)
    if c is None or not wanted_event(event_id, c.group(1), wanted):
        return False
    if event_id == 18:
        return '"Image":"System"' in text
    if event_id == 5857:  # a WMI provider loaded: only the ActiveScript consumer's host
        return "scrcons.exe" in text.lower()
    if event_id == 4103:  # module logging: only a cmdlet bound to a computer (DQ-HOST-015)
        return "ComputerName" in text or "CimSession" in text
    if event_id == 10:
        start = text.find(_TARGET_IMAGE_KEY)
        end = text.find('"', start + len(_TARGET_IMAGE_KEY)) if start >= 0 else -1
        if start < 0 or not text[start:end].lower().endswith("\\\\lsass.exe"):
            return False
        # only a handle that can read memory (PROCESS_VM_READ, 0x10): svchost.exe opens LSASS
        # for queries (0x1000) all day
        start = text.find(_ACCESS_KEY)
        if start < 0:
            return True
        start += len(_ACCESS_KEY)
        try:
            return bool(int(text[start : text.find('"', start)], 16) & 0x10)
        except ValueError:
            return True
    if event_id == 17:
        start = text.find(_PIPE_KEY)
        name = text[start + len(_PIPE_KEY) : start + 64].lower() if start >= 0 else ""
        return not name.startswith(LOCAL_PIPES)
    if event_id == 11:  # a file the System process wrote: what an SMB client sent
        return '"ProcessId":4,' in text or '"ProcessId":"4"' in text
    if event_id == 13:
        return _registry_needed(text)
    if event_id == 3:
        return _connection_needed(text)
    return event_id != 1 or _process_needed(text)


_SHARE_KEY = '"ShareName":"'


def _share_needed(text: str) -> bool:
    """A 5145 (detailed file share access) on IPC$ (named pipes) or an admin share (ADMIN$, a
    drive letter's C$...): what the host detectors read of it. A file server audits every file
    its users open on its plain shares; those name no pipe and no admin share, and are skipped
    (the one share classification is detectors/shares.py; this is its text form for IPC$ and
    admin shares)."""
    start = text.find(_SHARE_KEY)
    if start < 0:
        return True
    start += len(_SHARE_KEY)
    value = text[start : text.find('"', start)]
    share = value[value.rfind("\\") + 1 :].upper()
    return share in ("IPC$", "ADMIN$") or (
        len(share) == 2 and share[0].isalpha() and share[1] == "$"
    )


_PIPE_KEY = '"PipeName":"'
_PROCESS_NAME_KEY = '"ProcessName":"'
_TARGET_IMAGE_KEY = '"TargetImage":"'
_LOADER_KEY = '"Image":"'
_ACCESS_KEY = '"GrantedAccess":"'
_PORT_KEY = '"DestinationPort":'
ADMIN_PORT_TEXT = frozenset({"135", "445", "5985", "5986"})


def _connection_needed(text: str) -> bool:
    """A Sysmon 3 this host initiated to an SMB, RPC or WinRM port (Sysmon writes the port as
    a number, older versions as a string)."""
    if '"Initiated":true' not in text and '"Initiated":"true"' not in text:
        return False
    start = text.find(_PORT_KEY)
    if start < 0:
        return False
    start += len(_PORT_KEY)
    return text[start : start + 8].strip('"').split('"')[0].split(",")[0].split("}")[0] in (
        ADMIN_PORT_TEXT
    )


_TARGET_KEY = '"TargetObject":"'
# registry values that say what runs at boot, at logon or instead of another program (sources
# of DQ-HOST-018): a service's command, a Run/RunOnce value, Winlogon's Userinit and Shell, an
# Image File Execution Options Debugger (runs in place of the program named) and a
# SilentProcessExit MonitorProcess (runs when that program exits). One named group says which.
AUTORUN_VALUE = re.compile(
    r"\\services\\(?P<service>[^\\]+)\\(imagepath|failurecommand|parameters\\servicedll)$"
    r"|\\currentversion\\(run|runonce|runservices|runservicesonce)\\(?P<run>[^\\]*)$"
    r"|\\windows nt\\currentversion\\winlogon\\(?P<winlogon>userinit|shell)$"
    r"|\\image file execution options\\(?P<ifeo>[^\\]+)\\debugger$"
    r"|\\silentprocessexit\\(?P<exit>[^\\]+)\\monitorprocess$",
    re.I,
)


def _registry_needed(text: str) -> bool:
    """A Sysmon 13 whose TargetObject is an autostart value of AUTORUN_VALUE (the JSON text
    escapes each backslash)."""
    start = text.find(_TARGET_KEY)
    if start < 0:
        return False
    start += len(_TARGET_KEY)
    value = text[start : text.find('"', start)].replace("\\\\", "\\")
    return AUTORUN_VALUE.search(value) is not None


_IMAGE_KEYS = {
    1: ('"Image":"', '"ParentImage":"'),
    4688: ('"NewProcessName":"', '"ParentProcessName":"'),
}
_COMMAND_KEY = '"CommandLine":"'


def _process_needed(text: str, event_id: int = 1) -> bool:
    """Whether a process start's JSON text (as evtx writes it) names a program of
    PROCESS_NAMES as its image or its parent's, or its command line holds a keyword. Plain
    finds and slices of the few fields that matter: a regular expression, or lower-casing
    the whole record, costs several times what the evtx package spends rendering it."""
    names = []
    values = []
    for key in _IMAGE_KEYS.get(event_id, _IMAGE_KEYS[1]):
        start = text.find(key)
        if start < 0:
            names.append("")
            values.append("")
            continue
        start += len(key)
        value = text[start : text.find('"', start)]
        values.append(value)
        names.append(value[value.rfind("\\") + 1 :].lower().removesuffix(".exe"))
    if names == ["", ""] or names[0] in PROCESS_NAMES:
        return True
    if names[1] in PROCESS_NAMES:
        if names[1] != "services":
            return True
        # services.exe starts every service: only a shell, or a program outside the system
        # and program folders, is what DQ-HOST-015 reads of its children
        image = values[0].lower().replace("\\\\", "\\")
        if names[0] in SHELL_NAMES or not any(d in image for d in SYSTEM_FOLDERS):
            return True
    if names[1] == "explorer" and names[0] in SHELL_NAMES:
        return True
    start = text.find(_COMMAND_KEY)
    if start < 0:
        return False
    start += len(_COMMAND_KEY)
    end = text.find('","', start)
    command = text[start : end if end >= 0 else len(text)].lower()
    return any(k in command for k in PROCESS_KEYWORDS)


def read_evtx(
    path: Path,
    max_events: int,
    wanted: frozenset[int] | None = WANTED,
    deadline: Deadline | None = None,
) -> EventLogRead:
    """Events of interest from one EVTX file; bad records and chunks are skipped and counted.
    Past ``deadline`` (looked at every 1,024 records) the rest of the file is not read
    (``stopped`` says so)."""
    try:
        import evtx
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise InputError(str(path), "the 'evtx' package is not installed") from exc
    try:
        parser = evtx.PyEvtxParser(str(path), number_of_threads=EVTX_THREADS)
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(str(path), f"not a readable EVTX file: {exc}", offset=0) from exc
    events: list[HostEvent] = []
    warnings: list[str] = []
    records = skipped = 0
    truncated = False
    stopped = ""
    it = iter(parser.records_json())
    source = str(path)
    search = _EVENT_ID_RE.search
    stop = False
    # a for loop over the iterator is the fast path; a bad chunk raises out of it and the
    # outer loop resumes the same iterator after the bad part
    while not stop:
        try:
            for rec in it:
                if deadline is not None and not records & 1023 and deadline.spent():
                    stopped = f"{deadline.reason} after {records} records; the rest not read"
                    warnings.append(f"{path}: {stopped}")
                    truncated = stop = True
                    break
                records += 1
                if records > max_events:
                    stopped = f"more than {max_events} records, the rest not read"
                    warnings.append(f"{path}: {stopped}")
                    truncated = stop = True
                    break
                if not isinstance(rec, dict):
                    skipped += 1
                    continue
                text = rec.get("data")
                if not isinstance(text, str):
                    text = str(text or "")
                if wanted is not None:
                    # the id first: most records of a log are ids no detector reads
                    m = search(text)
                    if m is None:
                        continue
                    event_id = int(m.group(1))
                    if event_id not in wanted or not _wanted_text(text, wanted, event_id):
                        continue
                try:
                    ev = event_from_evtx_text(text, source, int(rec.get("event_record_id") or 0))
                except (ValueError, TypeError, RecursionError):  # nesting deeper than Python
                    skipped += 1
                    continue
                if ev is not None:
                    events.append(ev)
            else:
                stop = True
        except (RuntimeError, OSError, ValueError) as exc:
            skipped += 1
            if skipped <= 3:
                warnings.append(f"{path}: bad EVTX record or chunk skipped: {exc}")
            if skipped > MAX_BAD_RECORDS:
                warnings.append(f"{path}: more than {MAX_BAD_RECORDS} bad records, stopped")
                truncated = stop = True
    if records == 0 and skipped:
        raise InputError(str(path), f"no readable EVTX record ({skipped} bad)", offset=0)
    damaged = evtx_shortfall(path)
    if damaged:
        warnings.append(f"{path}: {damaged}")
    return EventLogRead(events, records, skipped, warnings, truncated, damaged, stopped)


def _json_objects(path: Path, max_bytes: int) -> Iterator[tuple[int, Any | None]]:
    with path.open("rb") as fh:  # never more than the limit in memory, however large the file
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise InputError(str(path), f"larger than {max_bytes} bytes")
    text = raw.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            arr = json.loads(stripped)
        except (ValueError, RecursionError) as exc:
            raise InputError(str(path), f"not a JSON array of events: {exc}") from exc
        if not isinstance(arr, list):
            raise InputError(str(path), "not a JSON array of events")
        for i, obj in enumerate(arr):
            yield i + 1, obj
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            obj = None
        yield lineno, obj


def read_event_json(
    path: Path,
    max_events: int,
    max_bytes: int,
    wanted: frozenset[int] | None = WANTED,
    deadline: Deadline | None = None,
) -> EventLogRead:
    """Events from a JSON export (JSON Lines or an array); bad lines are skipped and counted.
    Past ``deadline`` the rest of the file is not read (``stopped`` says so)."""
    events: list[HostEvent] = []
    warnings: list[str] = []
    records = skipped = 0
    truncated = False
    stopped = ""
    for lineno, obj in _json_objects(path, max_bytes):
        if deadline is not None and deadline.spent():
            stopped = f"{deadline.reason} after {records} events; the rest not read"
        elif records >= max_events:
            stopped = f"more than {max_events} events, the rest not read"
        if stopped:
            truncated = True
            warnings.append(f"{path}: {stopped}")
            break
        records += 1
        try:
            ev = event_from_json(obj, str(path), lineno) if obj is not None else None
        except RecursionError:  # nesting deeper than Python recurses
            ev = None
        if ev is None:
            skipped += 1
            if skipped <= 3:
                warnings.append(f"{path}: line {lineno}: not an event, skipped")
            continue
        if wanted_event(ev.event_id, ev.channel, wanted):
            events.append(ev)
    if records and skipped == records:
        raise InputError(str(path), "no line is an event", line=1)
    return EventLogRead(events, records, skipped, warnings, truncated, stopped=stopped)
