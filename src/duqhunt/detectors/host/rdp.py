"""Remote Desktop logons between internal hosts, from the logs of the hosts logged on to:
TerminalServices RemoteConnectionManager 1149 (authentication succeeded), LocalSessionManager
21 (session logon) and 25 (reconnection), Security 4624 logon type 10 (RemoteInteractive)."""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from duqhunt.detectors.host.base import HostContext, HostDetector
from duqhunt.model import Evidence, Finding
from duqhunt.model.finding import Severity
from duqhunt.sources.host.eventlog import HostEvent

# one source and account on this many hosts: an intruder going from host to host, not an
# administrator's session on the server he looks after
RDP_FAN_OUT = 3


def _internal(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    return a.is_private and not a.is_loopback and not a.is_unspecified


def rdp_logon(ev: HostEvent) -> tuple[str, str] | None:
    """(source address, account) of an RDP logon event, or None."""
    channel = ev.channel.lower()
    if ev.event_id == 1149 and "remoteconnectionmanager" in channel:
        return ev.get("Param3").strip(), ev.get("Param1").strip()
    if ev.event_id in (21, 25) and "localsessionmanager" in channel:
        return ev.get("Address").strip(), ev.get("User").strip().rsplit("\\", 1)[-1]
    if ev.event_id == 4624 and ev.get("LogonType").strip() == "10":
        return ev.get("IpAddress").strip(), ev.get("TargetUserName").strip()
    return None


class RdpLateralMovement(HostDetector):
    """Remote Desktop logons from another internal host (RemoteConnectionManager 1149,
    LocalSessionManager 21/25, Security 4624 type 10), one finding per source address and
    account over every host whose logs were given.

    medium when the same source and account logged on to three or more hosts (an intruder
    moving from host to host by RDP; needs the logs of several hosts in one scan); low for
    RDP to fewer hosts (an administrator's session reads the same).
    Logons from public addresses (RDP exposed to the internet: initial access, not lateral
    movement), from loopback (an RDP tunnel's far end) and without an address are not reported.
    Misses: RDP through a gateway or tunnel (the address is the gateway's); hosts whose
    TerminalServices and Security logs were not collected.
    False positives: help-desk staff working through several machines from one workstation;
    jump servers (their address is every session's source).
    """

    id = "DQ-HOST-020"
    title = "Remote Desktop logons from another internal host"
    stage = "lateral-movement"
    attack = ("T1021.001",)
    sources = ("evtx",)

    def run(self, ctx: HostContext) -> list[Finding]:
        groups: dict[tuple[str, str], list[tuple[HostEvent, str]]] = defaultdict(list)
        for h in ctx.hosts:
            for ev in h.events:
                got = rdp_logon(ev)
                if got is None:
                    continue
                src, account = got
                if not _internal(src) or not account or account.endswith("$"):
                    continue
                target = (ev.computer or h.host).lower()
                groups[(src, account.lower())].append((ev, target))
        out = []
        for (src, account), evs in sorted(groups.items()):
            evs.sort(key=lambda x: x[0].time)
            targets = sorted({t for _, t in evs})
            sev: Severity = "medium" if len(targets) >= RDP_FAN_OUT else "low"
            first = evs[0][0]
            name = first.get("Param1") or first.get("TargetUserName") or account
            f = self.finding(
                (src, account),
                f"{name} from {src}: Remote Desktop logons on {len(targets)} host(s)",
                sev,
                0.6 if sev == "medium" else 0.35,
                targets[0],
                first.time,
                evs[-1][0].time,
                [
                    Evidence(
                        source=e.source,
                        locator=f"record {e.record_id}",
                        summary=f"event {e.event_id} on {t}",
                    )
                    for e, t in evs[:12]
                ],
                {
                    "src": src,
                    "account": name,
                    "targets": ",".join(targets[:50]),
                    "target_count": len(targets),
                    "logons": len(evs),
                    "method": "rdp",
                },
            )
            out.append(f.model_copy(update={"hosts": tuple(targets)}))
        return out
