"""Lateral movement (DQ-NET-005/008) on small hand-built Zeek logs: which shares are admin
shares, what a write nobody executes is worth, and admin tooling learned from the data (one
low finding per source/account/program, while the unusual move still stands out).

Each fixture is a few SMB sessions written the way Zeek logs them: smb_mapping, smb_files
OPEN/WRITE, files.log (is_orig), dce_rpc over \\\\pipe\\svcctl and the NTLM account."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pyarrow as pa
import pytest

from duqhunt.detectors.host.events import LateralMovementSessions
from duqhunt.detectors.net.lateral import admin_of, learn_tooling, privileged_account
from duqhunt.detectors.shares import share_kind, share_kind_sql
from duqhunt.engines.duckdb import DuckDBEngine
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.sources.net.zeek_writer import write_zeek_tsv

T0 = 1318586400.0  # 2011-10-14 10:00 UTC
B = "\\"

ADMIN_PATHS = [
    "C$",
    "c$",
    "D$",
    "ADMIN$",
    "admin$",
    f"{B}{B}FS01{B}C$",
    f"{B}{B}ws17.corp.local{B}admin$",
    f"{B}{B}10.1.0.7{B}d${B}",
    f"{B * 4}HOST{B * 2}ADMIN$",  # doubled backslashes of an escaped log line
    "//host/C$",
    f"{B}{B}*{B}ADMIN$",  # Security 5140/5145 ShareName
]
FILE_PATHS = [
    f"{B}{B}FS01{B}Users$",
    f"{B}{B}FS01{B}users$",
    f"{B}{B}FS02{B}Home$",
    f"{B}{B}FS01{B}Profiles$",
    f"{B}{B}FS01{B}Software$",
    f"{B}{B}SCCM01{B}SCCMContentLib$",
    f"{B}{B}DC01{B}SYSVOL",
    f"{B}{B}DC01{B}NETLOGON",
    f"{B}{B}PRN01{B}print$",
    f"{B}{B}FS01{B}share",
    "AB$",
    "1$",
]
IPC_PATHS = ["IPC$", f"{B}{B}DC01{B}IPC$", f"{B}{B}*{B}ipc$"]


@pytest.mark.parametrize(
    ("path", "kind"),
    [(p, "admin") for p in ADMIN_PATHS]
    + [(p, "file") for p in FILE_PATHS]
    + [(p, "ipc") for p in IPC_PATHS]
    + [("", None), (None, None)],
)
def test_share_kind(path: str | None, kind: str | None) -> None:
    assert share_kind(path) == kind


def test_share_kind_sql_is_the_python_rule_on_duckdb() -> None:
    paths = [*ADMIN_PATHS, *FILE_PATHS, *IPC_PATHS, "", None]
    eng = DuckDBEngine()
    try:
        eng.register_arrow("p", pa.table({"i": list(range(len(paths))), "path": paths}))
        got = eng.query(f"SELECT i, {share_kind_sql('path')} AS kind FROM p ORDER BY i")
    finally:
        eng.close()
    assert got.column("kind").to_pylist() == [share_kind(p) for p in paths]


def test_privileged_accounts() -> None:
    for a in ("CORP\\svc_sccm", "adm_jsmith", "CORP\\Administrator", "backup-svc", "WS01$"):
        assert privileged_account(a), a
    assert privileged_account("svc_swdeploy/CORP.LOCAL")
    for a in ("CORP\\anagy", "jsmith", "", None, "CORP\\peter"):
        assert not privileged_account(a), a


# -- Zeek fixtures ---------------------------------------------------------------------------------


class Net:
    """Rows of the Zeek logs for a handful of SMB sessions."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {
            k: []
            for k in ("conn", "smb_mapping", "smb_files", "files", "dce_rpc", "ntlm", "kerberos")
        }
        self.n = 0

    def _base(self, ts: float, uid: str, src: str, dst: str) -> dict[str, Any]:
        return {
            "ts": ts,
            "uid": uid,
            "id.orig_h": src,
            "id.orig_p": 49152 + self.n % 16000,
            "id.resp_h": dst,
            "id.resp_p": 445,
        }

    def session(
        self,
        ts: float,
        src: str,
        dst: str,
        *,
        share: str | None = None,
        files: tuple[str, ...] = (),
        execute: bool = False,
        account: str | None = None,
    ) -> None:
        """One SMB session: files written to ``share``, then (optionally) a service created and
        started over svcctl."""
        self.n += 1
        uid = f"C{self.n:08d}smb{src[-3:].replace('.', 'x')}"
        self.rows["conn"].append(
            {
                **self._base(ts, uid, src, dst),
                "proto": "tcp",
                "service": "smb,dce_rpc,ntlm",
                "duration": 30.0,
                "orig_bytes": 400_000,
                "resp_bytes": 9_000,
                "conn_state": "SF",
                "history": "ShADadFf",
                "orig_pkts": 300,
                "resp_pkts": 200,
            }
        )
        if account:
            dom, user = account.split("\\")
            self.rows["ntlm"].append(
                {
                    **self._base(ts + 0.01, uid, src, dst),
                    "username": user,
                    "hostname": "WS",
                    "domainname": dom,
                    "success": True,
                }
            )
        t = ts + 0.05
        if share is not None:
            self.rows["smb_mapping"].append(
                {**self._base(t, uid, src, dst), "path": share, "share_type": "DISK"}
            )
            for i, name in enumerate(files):
                fuid = f"F{self.n:08d}x{i}"
                t += 0.1
                for action in ("SMB::FILE_OPEN", "SMB::FILE_WRITE"):
                    self.rows["smb_files"].append(
                        {
                            **self._base(t, uid, src, dst),
                            "fuid": fuid,
                            "action": action,
                            "path": share,
                            "name": name,
                            "size": 150_000,
                        }
                    )
                exe = name.lower().endswith(".exe")
                self.rows["files"].append(
                    {
                        "ts": t + 0.01,
                        "fuid": fuid,
                        "uid": uid,
                        "id.orig_h": src,
                        "id.orig_p": 49152,
                        "id.resp_h": dst,
                        "id.resp_p": 445,
                        "source": "SMB",
                        "depth": 0,
                        "mime_type": "application/x-dosexec" if exe else None,
                        "filename": name,
                        "is_orig": True,
                        "seen_bytes": 150_000,
                        "total_bytes": 150_000,
                    }
                )
        if execute:
            ipc = f"{B}{B}{dst}{B}IPC$"
            self.rows["smb_mapping"].append(
                {**self._base(ts + 5.0, uid, src, dst), "path": ipc, "share_type": "PIPE"}
            )
            for k, op in enumerate(("OpenSCManagerW", "CreateServiceW", "StartServiceW")):
                self.rows["dce_rpc"].append(
                    {
                        **self._base(ts + 5.1 + k * 0.01, uid, src, dst),
                        "rtt": 0.0003,
                        "named_pipe": "\\pipe\\svcctl",
                        "endpoint": "svcctl",
                        "operation": op,
                    }
                )

    def kerberos(self, ts: float, src: str, client: str, service: str) -> None:
        """A ticket request from ``src`` to the DC (a user working at that host)."""
        self.n += 1
        self.rows["kerberos"].append(
            {
                **self._base(ts, f"K{self.n:08d}krb", src, "10.0.1.10"),
                "id.resp_p": 88,
                "request_type": "TGS",
                "client": client,
                "service": service,
                "success": True,
            }
        )

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for log, rows in self.rows.items():
            if rows:
                rows.sort(key=lambda r: float(r["ts"]))
                write_zeek_tsv(folder / f"{log}.log", log, rows)
        return folder


def _hunt(tmp_path: Path, net: Net) -> ReportDocument:
    logs = net.write(tmp_path / "zeek")
    return hunt(HuntOptions(inputs=(logs,), out=tmp_path / "out", threads=2))


def _lateral(doc: ReportDocument, det: str = "DQ-NET-005") -> list[Any]:
    return [f for f in doc.findings if f.detector == det]


def test_hidden_file_share_writes_are_not_lateral_movement(tmp_path: Path) -> None:
    """Users save Word documents (with their ~WRL*.tmp copies) to Users$/Home$, a logon script
    lands in NETLOGON and SYSVOL, an installer in Software$: none of it is a move."""
    net = Net()
    for i in range(30):
        src = f"10.1.0.{20 + i}"
        for k, share in enumerate(("Users$", "Home$", "Profiles$")):
            net.session(
                T0 + i * 60 + k * 7,
                src,
                "10.0.1.20",
                share=f"{B}{B}FS01{B}{share}",
                files=(f"u{i}{B}~WRL{k:04d}.tmp", f"u{i}{B}~$report.docx", f"u{i}{B}report.docx"),
                account=f"CORP\\user{i}",
            )
    for share, name in (("NETLOGON", "logon.bat"), ("SYSVOL", "corp.local\\scripts\\map.ps1")):
        net.session(
            T0 + 5000, "10.1.0.10", "10.0.1.10", share=f"{B}{B}DC01{B}{share}", files=(name,)
        )
    net.session(
        T0 + 6000, "10.1.0.10", "10.0.1.20", share=f"{B}{B}FS01{B}Software$", files=("7z.exe",)
    )
    doc = _hunt(tmp_path, net)
    assert doc.campaign.lateral_moves == []
    assert _lateral(doc) == []


def test_admin_share_writes_then_execution_are_high_on_every_spelling(tmp_path: Path) -> None:
    net = Net()
    spellings = [
        "C$",
        "d$",
        "ADMIN$",
        "admin$",
        f"{B}{B}SRV{B}C$",
        f"{B}{B}srv.corp.local{B}Admin$",
    ]
    for i, share in enumerate(spellings):
        net.session(
            T0 + i * 3600,
            "10.1.0.99",
            f"10.0.2.{10 + i}",
            share=share,
            files=(f"Windows\\Temp\\{i:08x}.exe",),
            execute=True,
            account="CORP\\jdoe",
        )
    doc = _hunt(tmp_path, net)
    found = _lateral(doc)
    assert len(found) == len(spellings)
    assert {f.severity for f in found} == {"high"}
    shares = {f.details["share"] for f in found}
    assert shares == {"C$", "D$", "ADMIN$"}


@pytest.mark.parametrize(("applies_to", "severity"), [("[lateral]", "low"), ("[beacon]", "high")])
def test_an_allow_entry_for_lateral_movement_makes_a_sources_moves_tooling(
    tmp_path: Path, applies_to: str, severity: str
) -> None:
    """An entry with ``applies_to: [lateral]`` covering the source turns its moves into admin
    tooling (one low finding); an entry for the beacon ranking leaves them standing out."""
    net = Net()
    net.session(T0, "10.1.0.99", "10.0.2.10", share="ADMIN$", files=("psexesvc.exe",), execute=True)
    allow = tmp_path / "allow.yaml"
    allow.write_text(
        "name: site\nentries:\n  - name: deploy server\n    reason: pushes agents\n"
        f"    cidrs: [10.1.0.99]\n    applies_to: {applies_to}\n",
        encoding="utf-8",
    )
    doc = hunt(
        HuntOptions(
            inputs=(net.write(tmp_path / "zeek"),),
            out=tmp_path / "out",
            threads=2,
            allowlists=(allow,),
        )
    )
    assert [f.severity for f in _lateral(doc)] == [severity]


def test_a_write_nothing_executes_is_at_most_low(tmp_path: Path) -> None:
    net = Net()
    # an executable dropped on C$ and never started
    net.session(T0, "10.1.0.99", "10.0.2.10", share="C$", files=("Windows\\Temp\\x.exe",))
    # a file share written to and then a service started from the same source: a move, but not
    # an admin-share one
    net.session(
        T0 + 100,
        "10.1.0.98",
        "10.0.1.20",
        share=f"{B}{B}FS01{B}Users$",
        files=("u1\\run.exe",),
        execute=True,
    )
    doc = _hunt(tmp_path, net)
    by_src = {f.details["src"]: f for f in _lateral(doc)}
    assert by_src["10.1.0.99"].severity == "low"
    assert by_src["10.1.0.98"].severity == "medium"
    assert by_src["10.1.0.98"].details["share"] == "USERS$"
    assert "on USERS$" in by_src["10.1.0.98"].title


def test_execution_without_a_write_title(tmp_path: Path) -> None:
    """The 'a binary already on the host on the host' title of the red-team logs."""
    net = Net()
    net.session(T0, "10.1.0.99", "10.0.2.10", execute=True, account="CORP\\jdoe")
    doc = _hunt(tmp_path, net)
    (f,) = _lateral(doc)
    assert f.severity == "medium"
    assert f.title == "10.1.0.99 -> 10.0.2.10: a binary already on the host, run as a service"


RUNNER = "AdminArsenal\\PDQDeployRunner\\service-1\\PDQDeployRunner-1.exe"


def _push_wave(net: Net, n: int = 200, src: str = "10.0.1.31") -> list[str]:
    dsts = [f"10.1.{i // 200}.{10 + i % 200}" for i in range(n)]
    for i, dst in enumerate(dsts):
        net.session(
            T0 + (i // 8) * 30 + i % 8,
            src,
            dst,
            share=f"{B}{B}WS{i:03d}{B}ADMIN$",
            files=(RUNNER, "AdminArsenal\\PDQDeployRunner\\service-1\\exec\\Agent.msi"),
            execute=True,
            account="CORP\\svc_swdeploy",
        )
    return dsts


def test_push_wave_is_one_low_admin_tooling_finding(tmp_path: Path) -> None:
    net = Net()
    dsts = _push_wave(net)
    doc = _hunt(tmp_path, net)
    found = _lateral(doc)
    assert len(found) == 1
    (f,) = found
    assert f.severity == "low"
    assert f.details["targets"] == 200 and f.details["moves"] == 200
    assert set(str(f.details["target_list"]).split(", ")) == set(dsts)
    assert f.title.startswith("Admin tooling: 10.0.1.31 ran ")
    # the runner is started through the Service Control Manager (svcctl), and the title says so
    assert " as a service on 200 host(s) as CORP\\svc_swdeploy" in f.title
    assert _lateral(doc, "DQ-NET-008") == []
    # every move stays in the campaign, marked as tooling
    assert len(doc.campaign.lateral_moves) == 200
    assert all(m["admin_tool"] for m in doc.campaign.lateral_moves)


def test_unusual_binary_new_account_and_compromised_host_stand_out(tmp_path: Path) -> None:
    net = Net()
    _push_wave(net)
    t = T0 + 4 * 3600
    # the same server, a binary it never pushed
    net.session(
        t,
        "10.0.1.31",
        "10.1.0.50",
        share="ADMIN$",
        files=("system32\\drivers\\jminet7.sys",),
        execute=True,
        account="CORP\\svc_swdeploy",
    )
    # the same server and binary, an account never seen doing it
    net.session(
        t + 600,
        "10.0.1.31",
        "10.1.0.51",
        share="ADMIN$",
        files=(RUNNER,),
        execute=True,
        account="CORP\\adm_jsmith",
    )
    # a workstation that was moved into, then spreads one binary to 12 hosts
    net.session(
        t + 900,
        "10.1.0.60",
        "10.1.0.70",
        share="C$",
        files=("x.exe",),
        execute=True,
        account="CORP\\adm_jsmith",
    )
    for i in range(12):
        net.session(
            t + 1200 + i * 60,
            "10.1.0.70",
            f"10.50.0.{10 + i}",
            share="ADMIN$",
            files=("netp191.exe",),
            execute=True,
            account="CORP\\adm_jsmith",
        )
    doc = _hunt(tmp_path, net)
    found = _lateral(doc)
    tooling = [f for f in found if f.title.startswith("Admin tooling")]
    assert len(tooling) == 1 and tooling[0].details["targets"] == 200
    high = {(f.details["src"], f.details["dst"]) for f in found if f.severity == "high"}
    assert ("10.0.1.31", "10.1.0.50") in high
    assert ("10.0.1.31", "10.1.0.51") in high
    assert ("10.1.0.60", "10.1.0.70") in high
    assert {("10.1.0.70", f"10.50.0.{10 + i}") for i in range(12)} <= high
    spread = _lateral(doc, "DQ-NET-008")
    assert [f.details["account"] for f in spread] == ["CORP\\adm_jsmith"]


def test_repeated_psexec_to_a_handful_of_servers_is_learned() -> None:
    """learn_tooling on its own: an admin's PsExec to 3 servers, the same ones again hours
    later, is tooling; the same once each is not; a person's account never is."""

    def move(src: str, dst: str, t: float, account: str) -> dict[str, Any]:
        return {
            "src": src,
            "dst": dst,
            "write_ts": t,
            "exec_ts": t + 1,
            "file": "PSEXESVC.exe",
            "method": "service",
            "endpoint": "svcctl",
            "account": account,
            "executable": True,
        }

    servers = ["10.0.1.10", "10.0.1.20", "10.0.1.50"]
    once = [move("10.1.0.10", d, T0 + i * 600, "CORP\\adm_jsmith") for i, d in enumerate(servers)]
    assert learn_tooling(once, inventory={}, allowed={}) == []
    assert not any(m["admin_tool"] for m in once)
    again = once + [
        move("10.1.0.10", d, T0 + 5 * 3600 + i * 600, "CORP\\adm_jsmith")
        for i, d in enumerate(servers)
    ]
    (g,) = learn_tooling(again, inventory={}, allowed={})
    assert len(g["moves"]) == 6 and all(m["admin_tool"] for m in again)
    user = [{**m, "account": "CORP\\jdoe"} for m in again]
    assert learn_tooling(user, inventory={}, allowed={}) == []


# -- host side: the same classification in DQ-HOST-009 ---------------------------------------------


def test_host_sessions_use_the_same_admin_share_rule() -> None:
    from duqhunt.detectors.host.base import HostContext
    from duqhunt.sources.host.eventlog import HostEvent

    def ev(rec: int, eid: int, lid: str, **data: str) -> HostEvent:
        return HostEvent(
            time=T0 + rec,
            event_id=eid,
            channel="Security",
            computer="FS01",
            record_id=rec,
            data=tuple(data.items()),
            source="Security.evtx",
        )

    events = [
        ev(
            1,
            4624,
            "",
            TargetLogonId="0x1001",
            LogonType="3",
            IpAddress="10.1.0.5",
            TargetUserName="anagy",
            TargetDomainName="CORP",
        ),
        ev(
            2,
            5145,
            "",
            SubjectLogonId="0x1001",
            ShareName="\\\\*\\Users$",
            RelativeTargetName="anagy\\~WRL0001.tmp",
            AccessMask="0x2",
        ),
        ev(
            3,
            5145,
            "",
            SubjectLogonId="0x1001",
            ShareName="\\\\*\\SYSVOL",
            RelativeTargetName="corp.local\\scripts\\a.bat",
        ),
        ev(
            4,
            4624,
            "",
            TargetLogonId="0x2002",
            LogonType="3",
            IpAddress="10.1.0.6",
            TargetUserName="adm_x",
            TargetDomainName="CORP",
        ),
        ev(
            5,
            5145,
            "",
            SubjectLogonId="0x2002",
            ShareName="\\\\*\\c$",
            RelativeTargetName="Windows\\Temp\\a.exe",
            AccessMask="0x2",  # WriteData: a write (a read or an unlogged mask is not)
        ),
        ev(
            6,
            5145,
            "",
            SubjectLogonId="0x2002",
            ShareName="\\\\*\\IPC$",
            RelativeTargetName="svcctl",
        ),
    ]
    # the detector reads only the hosts' events
    ctx = cast(HostContext, SimpleNamespace(hosts=[SimpleNamespace(host="FS01", events=events)]))
    found = LateralMovementSessions().run(ctx)
    assert [(dict(f.details)["src"], f.severity) for f in found] == [("10.1.0.6", "high")]
    details = dict(found[0].details)
    assert details["files"] == "C$\\Windows\\Temp\\a.exe"
    assert details["pipes"] == "svcctl"


def test_one_wave_to_many_hosts_is_learned_without_any_inventory() -> None:
    """learn_tooling alone (no source mapping admin shares daily): one wave of the same
    program by a service account to admin_tool_many_targets hosts is tooling, one fewer is not."""

    def wave(n: int) -> list[dict[str, Any]]:
        return [
            {
                "src": "10.0.1.31",
                "dst": f"10.1.0.{10 + i}",
                "write_ts": T0 + i * 20,
                "exec_ts": T0 + i * 20 + 5,
                "file": RUNNER,
                "method": "service",
                "endpoint": "svcctl",
                "account": "CORP\\svc_swdeploy",
                "executable": True,
            }
            for i in range(n)
        ]

    (g,) = learn_tooling(wave(10), inventory={}, allowed={}, many=10)
    assert g["src"] == "10.0.1.31" and len(g["moves"]) == 10
    assert learn_tooling(wave(9), inventory={}, allowed={}, many=10) == []


def test_psexec_by_an_admin_working_from_his_host_is_tooling_not_from_elsewhere(
    tmp_path: Path,
) -> None:
    """jsmith works at 10.1.0.10 and runs PsExec with his admin account adm_jsmith to two
    servers: tooling. The same account from anagy's host 10.1.0.77 (stolen, even with a ticket
    of its own there) stays high."""
    net = Net()
    net.kerberos(T0 - 3 * 3600, "10.1.0.10", "jsmith/CORP.LOCAL", "krbtgt/CORP.LOCAL")
    net.kerberos(T0 - 3 * 3600, "10.1.0.77", "anagy/CORP.LOCAL", "krbtgt/CORP.LOCAL")
    net.kerberos(T0 - 2 * 3600, "10.1.0.77", "adm_jsmith/CORP.LOCAL", "krbtgt/CORP.LOCAL")
    for i, dst in enumerate(("10.0.1.20", "10.0.1.50")):
        net.session(
            T0 + i * 900,
            "10.1.0.10",
            dst,
            share="ADMIN$",
            files=("PSEXESVC.exe",),
            execute=True,
            account="CORP\\adm_jsmith",
        )
        net.session(
            T0 + 400 + i * 900,
            "10.1.0.77",
            f"10.1.0.{90 + i}",
            share="ADMIN$",
            files=("PSEXESVC.exe",),
            execute=True,
            account="CORP\\adm_jsmith",
        )
    doc = _hunt(tmp_path, net)
    found = _lateral(doc)
    tooling = [f for f in found if f.title.startswith("Admin tooling")]
    assert [(f.details["src"], f.details["targets"]) for f in tooling] == [("10.1.0.10", 2)]
    assert "admin account of jsmith" in str(tooling[0].details["admin_tool"])
    high = sorted(f.details["dst"] for f in found if f.severity == "high")
    assert high == ["10.1.0.90", "10.1.0.91"]


def test_admin_of() -> None:
    users = {"jsmith", "anagy"}
    assert admin_of("CORP\\adm_jsmith", users) == "jsmith"
    assert admin_of("jsmith-adm/CORP.LOCAL", users) == "jsmith"
    assert admin_of("CORP\\adm_jsmith", {"anagy"}) is None
    assert admin_of("CORP\\jsmith", users) is None  # not an admin account
    assert admin_of("CORP\\svc_sccm", users) is None
    assert admin_of(None, users) is None


@pytest.mark.parametrize(("mapped", "tooling"), [(5, True), (4, False)])
def test_a_source_mapping_admin_shares_on_five_hosts_a_day_is_learned_tooling(
    tmp_path: Path, mapped: int, tooling: bool
) -> None:
    """A backup server maps C$ on ``mapped`` hosts every day (reads, nothing written); on the
    second day its service account pushes an agent to two of them. At five hosts a day the
    server is admin inventory (admin_sources.sql: at least 5 hosts on its busiest day) and the
    push is its usual program, one low tooling finding; at four it is not, and each push is a
    high move."""
    net = Net()
    targets = [f"10.1.0.{20 + i}" for i in range(mapped)]
    for day in range(2):
        for i, dst in enumerate(targets):
            net.session(T0 + day * 86400 + i * 60, "10.0.1.40", dst, share="C$")
    for i, dst in enumerate(targets[:2]):
        net.session(
            T0 + 86400 + 3600 + i * 60,
            "10.0.1.40",
            dst,
            share="ADMIN$",
            files=("BackupAgent\\agent.exe",),
            execute=True,
            account="CORP\\svc_backup",
        )
    found = _lateral(_hunt(tmp_path, net))
    if tooling:
        (f,) = found
        assert f.severity == "low" and f.title.startswith("Admin tooling: 10.0.1.40")
        assert f"maps admin shares on up to {mapped} hosts a day on 2 of 2 day(s)" in str(
            f.details["admin_tool"]
        )
    else:
        assert sorted((f.details["dst"], f.severity) for f in found) == [
            (targets[0], "high"),
            (targets[1], "high"),
        ]


# -- lateral.sql on its own: the candidate rows, one change of input at a time ----------------------


def _lateral_rows(logs: dict[str, list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    from duqhunt.detectors.net.lateral import LATERAL_SQL
    from duqhunt.sources.net.zeek_schema import canonical_schema

    eng = DuckDBEngine()
    try:
        for kind in ("smb_files", "files", "dce_rpc", "ntlm", "kerberos", "dns", "http", "dhcp"):
            schema = canonical_schema(kind)
            rows = [{f.name: r.get(f.name) for f in schema} for r in logs.get(kind, [])]
            eng.register_arrow(kind, pa.Table.from_pylist(rows, schema=schema))
        # no internal addresses: host names (for Kerberos tickets) are not part of these cases
        eng.register_arrow(
            "ip_class",
            pa.table({"ip": pa.array([], pa.string()), "internal": pa.array([], pa.bool_())}),
        )
        eng.create_derived_views()
        got = eng.query(
            LATERAL_SQL,
            {"exec_window_s": 600.0, "lead_s": 5.0},
        ).to_pylist()
    finally:
        eng.close()
    return [
        (
            r["src"],
            r["dst"],
            r["write_ts"],
            r["share_kind"],
            r["file"],
            r["via"],
            r["exec_ts"],
            r["method"],
            r["operation"],
            r["write_account"],
            r["exec_account"],
        )
        for r in got
    ]


def _id(ts: float, uid: str, src: str, dst: str) -> dict[str, Any]:
    return {
        "ts": ts,
        "uid": uid,
        "id_orig_h": src,
        "id_orig_p": 49152,
        "id_resp_h": dst,
        "id_resp_p": 445,
    }


def _smbf(
    ts: float, uid: str, src: str, dst: str, action: str, path: str, name: str
) -> dict[str, Any]:
    return {
        **_id(ts, uid, src, dst),
        "fuid": "F" + uid,
        "action": action,
        "path": path,
        "name": name,
    }


def _rpc(
    ts: float, uid: str, src: str, dst: str, op: str, endpoint: str = "svcctl"
) -> dict[str, Any]:
    return {
        **_id(ts, uid, src, dst),
        "named_pipe": f"\\pipe\\{endpoint}",
        "endpoint": endpoint,
        "operation": op,
    }


def test_admin_sources_sql_learns_sources_busy_on_at_least_half_their_days() -> None:
    """admin_sources.sql: per source, the days it mapped admin shares (ADMIN$, C$...) and how
    many of them reached the day's share of internal hosts (here 0.2 x 20 = 4 hosts); a source
    is admin tooling when at least half its days did and its busiest day reached 5 hosts.
    Other shares, a host mapped twice in a day, and a busy day short of 5 hosts do not count."""
    from duqhunt.detectors.base import load_sql
    from duqhunt.detectors.shares import expand_share_macros
    from duqhunt.sources.net.zeek_schema import canonical_schema

    day = 86400.0
    d0 = T0 - T0 % day  # midnight UTC: the SQL's days are UTC days
    rows: list[dict[str, Any]] = []

    def maps(src: str, on_day: int, hosts: int, share: str = "C$") -> None:
        for i in range(hosts):
            dst = f"10.1.{on_day}.{10 + i}"
            rows.append(
                {**_id(d0 + on_day * day + 60 + i, f"M{len(rows)}", src, dst), "path": share}
            )

    maps("10.0.1.41", 0, 5)  # busy on 1 of 3 days: not tooling
    maps("10.0.1.41", 1, 3)
    maps("10.0.1.41", 2, 3)
    maps("10.0.1.42", 0, 5, f"{B}{B}*{B}ADMIN$")  # busy on 1 of 2 days: half is enough
    maps("10.0.1.42", 1, 3, "D$")
    maps("10.0.1.43", 0, 4)  # busy every day at 4 hosts, never 5: not tooling
    maps("10.0.1.43", 1, 4)
    maps("10.0.1.44", 0, 6, "IPC$")  # pipes and a file share are no admin shares
    maps("10.0.1.44", 1, 6, f"{B}{B}FS{B}Users$")
    maps("10.0.1.45", 0, 5)  # five hosts, one of them mapped again: four distinct
    rows[-1]["id_resp_h"] = rows[-2]["id_resp_h"]
    maps("10.0.1.46", 3, 6, "c$")  # one day, six hosts, share names in any case

    schema = canonical_schema("smb_mapping")
    eng = DuckDBEngine()
    try:
        table = [{f.name: r.get(f.name) for f in schema} for r in rows]
        eng.register_arrow("smb_mapping", pa.Table.from_pylist(table, schema=schema))
        got = eng.query(
            expand_share_macros(load_sql("duqhunt.detectors.net", "admin_sources.sql")),
            {"internal_hosts": 20.0, "admin_share": 0.2, "min_days_share": 0.5},
        ).to_pylist()
    finally:
        eng.close()
    assert sorted((r["src"], r["days"], r["busy_days"], r["max_dsts"]) for r in got) == [
        ("10.0.1.42", 2, 1, 5),
        ("10.0.1.46", 1, 1, 6),
    ]


def test_account_home_sql_keeps_ordinary_logons_and_leaves_out_the_moves() -> None:
    """account_home.sql: the accounts that log on from each host (NTLM username, Kerberos
    client) with the first time seen, leaving out connections that carried a remote execution
    request or mapped an admin share. A connection that mapped IPC$ or a file share is ordinary
    work and counts."""
    from duqhunt.detectors.base import load_sql
    from duqhunt.detectors.shares import expand_share_macros
    from duqhunt.sources.net.zeek_schema import canonical_schema

    ws, t = "10.1.0.30", T0
    logs: dict[str, list[dict[str, Any]]] = {
        "ntlm": [
            {**_id(t, "N1", ws, "10.0.2.1"), "username": "jsmith"},  # IPC$: ordinary
            {**_id(t + 1, "N2", ws, "10.0.2.2"), "username": "jsmith"},  # a file share
            {**_id(t + 2, "N3", ws, "10.0.2.3"), "username": "adm_jsmith"},  # mapped C$
            {**_id(t + 3, "N4", ws, "10.0.2.4"), "username": "adm_other"},  # created a service
            {**_id(t + 4, "N5", ws, "10.0.2.5"), "username": ""},
        ],
        "kerberos": [
            {**_id(t - 5, "K1", ws, "10.0.0.2"), "client": "jsmith/CORP.LOCAL"},
            {**_id(t + 6, "K2", ws, "10.0.0.2"), "client": None},
        ],
        "smb_mapping": [
            {**_id(t, "N1", ws, "10.0.2.1"), "path": f"{B}{B}SRV1{B}IPC$"},
            {**_id(t + 1, "N2", ws, "10.0.2.2"), "path": f"{B}{B}FS{B}Users$"},
            {**_id(t + 2, "N3", ws, "10.0.2.3"), "path": f"{B}{B}SRV3{B}C$"},
        ],
        "dce_rpc": [_rpc(t + 3, "N4", ws, "10.0.2.4", "CreateServiceW")],
    }
    eng = DuckDBEngine()
    try:
        for kind, rows in logs.items():
            schema = canonical_schema(kind)
            table = [{f.name: r.get(f.name) for f in schema} for r in rows]
            eng.register_arrow(kind, pa.Table.from_pylist(table, schema=schema))
        got = eng.query(
            expand_share_macros(load_sql("duqhunt.detectors.net", "account_home.sql"))
        ).to_pylist()
    finally:
        eng.close()
    assert [(r["src"], r["account"], r["first_ts"]) for r in got] == [
        (ws, "jsmith", t),
        (ws, "jsmith/CORP.LOCAL", t - 5),
    ]


def test_lateral_sql_pairs_writes_and_executions_as_its_header_says() -> None:
    """A write is an smb_files FILE_WRITE row or a files.log SMB transfer the client sent
    (matched to its FILE_OPEN by connection and name); it pairs with a service or task
    creation on the same destination from the same source from 5 s before to 600 s after.
    Admin-share writes always count; file-share writes only with such an execution; reads,
    IPC$, other protocols and other RPC operations never do. The account is NTLM's (domain\\user)
    or Kerberos's client on the same connection."""
    a, t = "10.1.0.99", T0
    other = "10.2.0.5"  # sorts after a: a source test turned into >= would let it in
    admin = f"{B}{B}SRV{B}ADMIN$"
    logs: dict[str, list[dict[str, Any]]] = {
        "smb_files": [
            # 1: a FILE_WRITE row on C$, a service created 5 s later on another connection
            _smbf(t, "U1", a, "10.0.2.1", "SMB::FILE_WRITE", "C$", "Windows\\Temp\\x.exe"),
            # 2: stock Zeek: only the FILE_OPEN; files.log holds the transfer
            _smbf(t, "U2", a, "10.0.2.2", "SMB::FILE_OPEN", admin, "PSEXESVC.exe"),
            # 3: a read of C$: the open, and files.log says the server sent it
            _smbf(t, "U3", a, "10.0.2.3", "SMB::FILE_OPEN", "C$", "Windows\\win.ini"),
            _smbf(t + 1, "U3", a, "10.0.2.3", "SMB::FILE_READ", "C$", "Windows\\win.ini"),
            # 4: a file share written to, a task 10 min later: a move (and at 11 min: not)
            _smbf(t, "U4", a, "10.0.1.20", "SMB::FILE_WRITE", f"{B}{B}FS{B}Users$", "u\\a.exe"),
            _smbf(t, "U5", a, "10.0.1.21", "SMB::FILE_WRITE", f"{B}{B}FS{B}Users$", "u\\b.exe"),
            # 5b: a task 10 s before a file-share write (more than the 5 s lead): not a move
            _smbf(t, "U5B", a, "10.0.1.22", "SMB::FILE_WRITE", f"{B}{B}FS{B}Home$", "u\\c.exe"),
            # 5c: a file-share write, and a task on that host from another source: not a move
            _smbf(t, "U5C", a, "10.0.1.23", "SMB::FILE_WRITE", f"{B}{B}FS{B}Home$", "u\\d.exe"),
            # 6: the execution 5 s before the write is logged still pairs; 10 s before does not
            _smbf(t, "U6", a, "10.0.2.6", "SMB::FILE_WRITE", "D$", "svc.exe"),
            _smbf(t, "U7", a, "10.0.2.7", "SMB::FILE_WRITE", "D$", "svc.exe"),
            # 10: an admin-share write, and a service created 700 s later: two rows, not a pair
            _smbf(t, "U10", a, "10.0.2.10", "SMB::FILE_WRITE", "C$", "late.exe"),
            # 9: a print job to a printer share is no file written, whatever runs after it
            _smbf(t, "U9", a, "10.0.2.9", "SMB::PRINT_WRITE", f"{B}{B}PRN01{B}HPLaser", "job"),
            # 8: a pipe written through IPC$ is no move
            _smbf(t, "U8", a, "10.0.2.8", "SMB::FILE_WRITE", "IPC$", "svcctl"),
        ],
        "files": [
            {
                "ts": t + 0.5,
                "fuid": "FU2",
                "uid": "U2",
                "id_orig_h": a,
                "id_resp_h": "10.0.2.2",
                "source": "SMB",
                "is_orig": True,
                "filename": "PSEXESVC.exe",
                "mime_type": "application/x-dosexec",
            },
            {
                "ts": t + 0.5,
                "fuid": "FU3",
                "uid": "U3",
                "id_orig_h": a,
                "id_resp_h": "10.0.2.3",
                "source": "SMB",
                "is_orig": False,
                "filename": "Windows\\win.ini",
            },
            # the same name over HTTP on the read's connection is not an SMB write
            {
                "ts": t + 0.6,
                "fuid": "FH",
                "uid": "U3",
                "id_orig_h": a,
                "id_resp_h": "10.0.2.3",
                "source": "HTTP",
                "is_orig": True,
                "filename": "Windows\\win.ini",
            },
        ],
        "dce_rpc": [
            _rpc(t + 5, "E1", a, "10.0.2.1", "CreateServiceW"),
            _rpc(t + 8, "E2", a, "10.0.2.2", "CreateServiceWOW64W"),
            _rpc(t + 600, "E4", a, "10.0.1.20", "SchRpcRegisterTask", "ITaskSchedulerService"),
            _rpc(t + 660, "E5", a, "10.0.1.21", "SchRpcRegisterTask", "ITaskSchedulerService"),
            _rpc(t - 10, "E5B", a, "10.0.1.22", "SchRpcRegisterTask", "ITaskSchedulerService"),
            _rpc(
                t + 5, "E5C", "10.2.0.5", "10.0.1.23", "SchRpcRegisterTask", "ITaskSchedulerService"
            ),
            _rpc(t + 700, "E10", a, "10.0.2.10", "CreateServiceW"),
            _rpc(t - 5, "E6", a, "10.0.2.6", "StartServiceW"),
            _rpc(t - 10, "E7", a, "10.0.2.7", "StartServiceW"),
            _rpc(t + 5, "E9", a, "10.0.2.9", "NetrJobAdd", "atsvc"),  # nothing written
            _rpc(t + 5, "E0", a, "10.0.2.1", "OpenSCManagerW"),  # not an execution
            _rpc(t + 5, "EX", "10.1.0.98", "10.0.2.1", "CreateServiceW"),  # another source
        ],
        "ntlm": [
            {**_id(t, "U1", a, "10.0.2.1"), "username": "adm_x", "domainname": "CORP"},
            {**_id(t, "E1", a, "10.0.2.1"), "username": "adm_y", "domainname": ""},
            {**_id(t, "U2", a, "10.0.2.2"), "username": "", "domainname": "CORP"},
        ],
        "kerberos": [
            {**_id(t, "E2", a, "10.0.2.2"), "client": "adm_z/CORP.LOCAL"},
            {**_id(t, "U4", a, "10.0.1.20"), "client": ""},
        ],
    }
    rows = _lateral_rows(logs)
    w, f_ = "smb_files SMB::FILE_WRITE", "files.log is_orig (SMB)"
    assert rows == [
        (
            "10.1.0.98",
            "10.0.2.1",
            None,
            None,
            None,
            None,
            t + 5,
            "service",
            "CreateServiceW",
            None,
            None,
        ),
        (
            a,
            "10.0.1.20",
            t,
            "file",
            "u\\a.exe",
            w,
            t + 600,
            "task",
            "SchRpcRegisterTask",
            None,
            None,
        ),
        (a, "10.0.1.21", None, None, None, None, t + 660, "task", "SchRpcRegisterTask", None, None),
        (a, "10.0.1.22", None, None, None, None, t - 10, "task", "SchRpcRegisterTask", None, None),
        (
            a,
            "10.0.2.1",
            t,
            "admin",
            "Windows\\Temp\\x.exe",
            w,
            t + 5,
            "service",
            "CreateServiceW",
            "CORP\\adm_x",
            "adm_y",
        ),
        (a, "10.0.2.10", t, "admin", "late.exe", w, None, None, None, None, None),
        (a, "10.0.2.10", None, None, None, None, t + 700, "service", "CreateServiceW", None, None),
        (
            a,
            "10.0.2.2",
            t + 0.5,
            "admin",
            "PSEXESVC.exe",
            f_,
            t + 8,
            "service",
            "CreateServiceWOW64W",
            None,
            "adm_z/CORP.LOCAL",
        ),
        (a, "10.0.2.6", t, "admin", "svc.exe", w, t - 5, "service", "StartServiceW", None, None),
        (a, "10.0.2.7", None, None, None, None, t - 10, "service", "StartServiceW", None, None),
        (a, "10.0.2.7", t, "admin", "svc.exe", w, None, None, None, None, None),
        (a, "10.0.2.9", None, None, None, None, t + 5, "task", "NetrJobAdd", None, None),
        (
            other,
            "10.0.1.23",
            None,
            None,
            None,
            None,
            t + 5,
            "task",
            "SchRpcRegisterTask",
            None,
            None,
        ),
    ]


def test_kerberos_session_takes_the_account_of_the_sources_ticket(tmp_path: Path) -> None:
    """PsExec over Kerberos-authenticated SMB: no NTLM on the session, and kerberos.log holds the
    source's service ticket request to the DC (another connection), not the session's account.
    The move's account is the client of the source's latest ticket for the destination's
    service (cifs/, host/ or rpcss/NAME, NAME a machine account the destination itself logs on
    as); a ticket
    for another host or another service (HTTP/NAME), or older than a service ticket lives
    (10 h), names none."""
    net = Net()
    src = "10.1.0.5"
    for n in (9, 11, 12, 13, 14, 15, 16):  # the destinations' own machine tickets name them
        net.kerberos(T0 - 5 * 3600, f"10.1.0.{n}", f"WS{n:02d}$/CORP.LOCAL", "krbtgt/CORP.LOCAL")
    net.kerberos(T0 - 60, src, "abaker/CORP.LOCAL", "cifs/ws09.corp.local")  # sorts first
    net.kerberos(T0 - 30, src, "adm_jsmith/CORP.LOCAL", "cifs/WS09.corp.local")  # the latest
    net.kerberos(T0 + 100 - 11 * 3600, src, "adm_jsmith/CORP.LOCAL", "cifs/WS11.corp.local")
    net.kerberos(T0 + 150, src, "adm_jsmith/CORP.LOCAL", "cifs/WS13.corp.local")
    net.kerberos(T0 + 160, src, "bweb/CORP.LOCAL", "HTTP/ws12.corp.local")  # not for SMB
    # the other services an SMB session or a remote service call authenticates to
    net.kerberos(T0 + 290, src, "cjones/CORP.LOCAL", "host/ws14.corp.local")
    net.kerberos(T0 + 390, src, "dlee/CORP.LOCAL", "RPCSS/WS15.corp.local")
    # WS16 at the same instant as WS09: each move keeps its own destination's ticket
    net.kerberos(T0 - 20, src, "eve/CORP.LOCAL", "cifs/WS16.corp.local")
    net.session(
        T0,
        src,
        "10.1.0.16",
        share=f"{B}{B}10.1.0.16{B}ADMIN$",
        files=("PSEXESVC.exe",),
        execute=True,
    )
    for k, n in enumerate((9, 11, 12, 14, 15)):
        net.session(
            T0 + 100 * k,
            src,
            f"10.1.0.{n}",
            share=f"{B}{B}10.1.0.{n}{B}ADMIN$",
            files=("PSEXESVC.exe",),
            execute=True,
        )
    doc = _hunt(tmp_path, net)
    accounts = {m["dst"]: m["account"] for m in doc.campaign.lateral_moves}
    assert accounts == {
        "10.1.0.9": "adm_jsmith/CORP.LOCAL",
        "10.1.0.11": None,  # its ticket is 11 h old
        "10.1.0.12": None,  # a ticket for WS13, or for WS12's web server, names no account
        "10.1.0.14": "cjones/CORP.LOCAL",
        "10.1.0.15": "dlee/CORP.LOCAL",
        "10.1.0.16": "eve/CORP.LOCAL",
    }


def test_push_wave_started_as_scheduled_tasks_says_so(tmp_path: Path) -> None:
    """The same push wave started over ITaskSchedulerService (MS-TSCH SchRpcRegisterTask then
    SchRpcRun on the atsvc pipe) instead of svcctl: the tooling title says "as a scheduled
    task"."""
    net = Net()
    _push_wave(net)
    for k, row in enumerate(net.rows["dce_rpc"]):
        row.update(
            named_pipe="\\pipe\\atsvc",
            endpoint="ITaskSchedulerService",
            operation=("SchRpcRegisterTask", "SchRpcRun", "SchRpcRun")[k % 3],
        )
    (f,) = _lateral(_hunt(tmp_path, net))
    assert " as a scheduled task on 200 host(s) as CORP\\svc_swdeploy" in f.title, f.title
