"""Credential access and code injection in Sysmon process events: LSASS memory opened for
reading (Sysmon 10), threads started in another process (Sysmon 8) and modules loaded into
LSASS (Sysmon 7). Duqu's loader injected
its main module into system processes (lsass.exe among them) and its infostealer took
credentials; mimikatz and every LSASS dumper leave the same traces."""

from __future__ import annotations

from duqhunt.detectors.host.base import HostContext, HostDetector
from duqhunt.detectors.host.events import SHELLS
from duqhunt.detectors.host.execution import _base, _system_program
from duqhunt.model import Evidence, Finding
from duqhunt.model.finding import Severity, Stage
from duqhunt.sources.host.eventlog import HostEvent

# PROCESS_VM_READ: the right that lets a process read another's memory (winnt.h); every LSASS
# dumper asks for it (mimikatz sekurlsa 0x1010/0x1410, MiniDumpWriteDump 0x1fffff)
PROCESS_VM_READ = 0x10
# modules through which a process writes a memory dump of another
_DUMP_MODULES = ("dbghelp.dll", "dbgcore.dll", "comsvcs.dll")
CREDENTIAL_ATTACK = ("T1003.001",)
INJECTION_ATTACK = ("T1055",)
# a DLL LSASS loads from outside Windows' and programs' folders: a security support provider
# or password filter an intruder registered (mimilib.dll), or a module injected into it
SSP_ATTACK = ("T1547.005", "T1003.001")


def _access(ev: HostEvent) -> int:
    v = ev.get("GrantedAccess").strip().lower()
    try:
        return int(v, 16) if v.startswith("0x") else int(v)
    except ValueError:
        return 0


class ProcessTampering(HostDetector):
    """LSASS memory read and threads started in other processes (Sysmon 10 and 8).

    Sysmon 10 (process access) whose target is lsass.exe and whose granted access includes
    PROCESS_VM_READ (0x10): the process could read the credentials LSASS holds. high when the
    reader lives outside the Windows and program folders, is a shell or loader (rundll32.exe
    comsvcs.dll MiniDump, PowerShell), or its call trace shows code outside any module
    (``UNKNOWN``) or a dump module (dbghelp/dbgcore/comsvcs); medium otherwise.
    Sysmon 8 (CreateRemoteThread): high when the thread starts outside any module (injected
    code: no StartModule) or in lsass.exe (also T1003.001: rdrleakdiag and other dumpers
    start a thread in LSASS); medium when the starting program lives outside the
    Windows and program folders; in-box programs starting threads in others (csrss.exe's
    console control routine) are not reported.

    The accessing program is looked up in the known-good list as for services (content/host/
    known-good.yaml, ``--known-good``): an entry whose ``services`` holds the target program
    (``lsass.exe``) and whose ``images`` match the accessing program's path
    quiets it (Defender, Sysmon, VMware Tools, WMI's provider host, Process Monitor).
    Sysmon 7 (image loaded), read only for lsass.exe: high for a module from outside the
    Windows and program folders (a share, a user or temp folder: an SSP or password filter
    such as mimilib.dll, or injected code; T1547.005), medium for an unsigned module
    elsewhere and for dbghelp.dll/dbgcore.dll (LSASS writing a dump of itself, as driver-based
    and silent-process-exit dumpers make it do). The known-good list quiets a vendor's LSA
    plugin the same way (``services: [lsass.exe]``, ``images``: the module's path).
    Misses: access masks without VM_READ (a handle duplicated later); dumps through a driver
    or from a snapshot (no process access is logged); LSASS dumped by a process of the same
    name and path as a known-good one; a malicious SSP signed and placed in System32; image
    loads into any other process (DLL side-loading and hijacks: not read, for speed and noise).
    False positives: EDR, backup and monitoring agents not on the known-good list; password
    managers and SSO agents that query LSASS.
    """

    id = "DQ-HOST-019"
    title = "LSASS memory read or thread started in another process"
    stage = "installation"
    attack = ("T1003.001", "T1055", "T1547.005")
    sources = ("evtx",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out: list[Finding] = []
        for h in ctx.hosts:
            seen: set[tuple[str, ...]] = set()
            for ev in sorted(h.events, key=lambda e: e.time):
                if "sysmon" not in ev.channel.lower() or ev.event_id not in (7, 8, 10):
                    continue
                if ev.event_id == 7:
                    # the module is the "source" acting on the process it was loaded into
                    source, target = ev.get("ImageLoaded"), ev.get("Image")
                else:
                    source, target = ev.get("SourceImage"), ev.get("TargetImage")
                target_name = _base(target)
                if ctx.known_good.match(target_name, source) is not None:
                    continue
                if ev.event_id == 7:
                    hit = _lsass_module(ev)
                elif ev.event_id == 10:
                    hit = _lsass_read(ev)
                else:
                    hit = _remote_thread(ev)
                if hit is None:
                    continue
                sev, why = hit
                key = (ev.computer.lower(), str(ev.event_id), source.lower(), target.lower())
                if key in seen:
                    continue
                seen.add(key)
                f = self.finding(
                    key,
                    f"{_base(source) or '?'} {why} {target_name or '?'}",
                    sev,
                    0.8 if sev == "high" else 0.55,
                    ev.computer or h.host,
                    ev.time,
                    ev.time,
                    [
                        Evidence(
                            source=ev.source,
                            locator=f"record {ev.record_id}",
                            summary=f"event {ev.event_id}: {source} -> {target} "
                            + (
                                f"access {ev.get('GrantedAccess')}"
                                if ev.event_id == 10
                                else f"signed {ev.get('Signed') or '?'} {ev.get('Signature')}"
                                if ev.event_id == 7
                                else f"start {ev.get('StartModule') or 'outside any module'}"
                            ),
                        )
                    ],
                    {
                        "source_image": source,
                        "target_image": target,
                        "granted_access": ev.get("GrantedAccess") or None,
                        "start_module": ev.get("StartModule") or None,
                        "call_trace": ev.get("CallTrace")[:500] or None,
                        "account": ev.get("SourceUser") or ev.get("User") or None,
                        "signed": ev.get("Signed") or None,
                        "event_id": ev.event_id,
                    },
                )
                attack: tuple[str, ...] = INJECTION_ATTACK
                stage: Stage = "installation"
                if ev.event_id == 7:
                    dump = _base(source) in _DUMP_MODULES
                    attack = CREDENTIAL_ATTACK if dump else SSP_ATTACK
                elif ev.event_id == 10:
                    # credentials taken from LSASS are what the intruder spreads with
                    attack, stage = CREDENTIAL_ATTACK, "lateral-movement"
                elif target_name == "lsass.exe":
                    attack = CREDENTIAL_ATTACK + INJECTION_ATTACK  # a dump from inside LSASS
                out.append(f.model_copy(update={"attack": attack, "stage": stage}))
        return out


def _odd_program(image: str) -> bool:
    """Outside the Windows and program folders, or a shell or loader that runs what it is given."""
    return not _system_program(image) or _base(image) in SHELLS


def _lsass_read(ev: HostEvent) -> tuple[Severity, str] | None:
    if _base(ev.get("TargetImage")) != "lsass.exe" or not _access(ev) & PROCESS_VM_READ:
        return None
    trace = ev.get("CallTrace").lower()
    if _odd_program(ev.get("SourceImage")) or "unknown" in trace:
        return "high", "read the memory of"
    if any(m in trace for m in _DUMP_MODULES):
        return "high", "dumped the memory of"
    return "medium", "read the memory of"


def _lsass_module(ev: HostEvent) -> tuple[Severity, str] | None:
    if _base(ev.get("Image")) != "lsass.exe":
        return None
    module = ev.get("ImageLoaded")
    if not module:
        return None
    if not _system_program(module) or module.startswith("\\\\"):
        return "high", "loaded from outside the Windows and program folders into"
    if _base(module) in _DUMP_MODULES:
        return "medium", "(a memory dump module) loaded into"
    if ev.get("Signed").strip().lower() == "false":
        return "medium", "(unsigned) loaded into"
    return None


def _remote_thread(ev: HostEvent) -> tuple[Severity, str] | None:
    module = ev.get("StartModule").strip()
    if not module or module == "-":
        return "high", "started a thread outside any module (injected code) in"
    if _base(ev.get("TargetImage")) == "lsass.exe":
        return "high", "started a thread in"
    if _odd_program(ev.get("SourceImage")):
        return "medium", "started a thread in"
    return None
