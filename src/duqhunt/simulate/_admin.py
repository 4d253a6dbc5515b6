"""Optional benign activity that looks like lateral movement (every option defaults off):

* ``user_shares``: the file servers publish hidden per-user shares (``\\\\FS01\\Users$``,
  ``\\\\FS01\\Profiles$``, ``\\\\FS02\\Home$``) and the IT software share ``\\\\FS01\\Software$``.
  Users open and save Office documents there all day: Word writes its ``~$`` owner file and a
  ``~WRLnnnn.tmp`` copy before the document itself, Excel an 8-hex-digit temp file; roaming
  profiles sync at logoff; an administrator drops installers into ``Software$`` and logon
  scripts into ``NETLOGON``. Nothing executes any of it remotely.
* ``software_push``: a software-distribution server ``SWD01`` (account ``svc_swdeploy``, NTLM)
  runs PDQ-Deploy-style deployments: in waves it copies a runner and a package to each online
  workstation's ``ADMIN$`` and creates and starts a runner service over ``svcctl``. No
  known-good list names it.
* ``admin_psexec``: the IT administrators run PsExec from their workstations (``WS001`` with
  ``adm_jsmith`` over NTLM, ``WS002`` with its user's admin account over Kerberos) to a handful
  of servers each, a few times a working day: ``PSEXESVC.exe`` to ``ADMIN$``, the service
  created and started, the stdin/stdout/stderr pipes, the service deleted at the end.

Telemetry only; nothing here is executable.
"""

from __future__ import annotations

from duqhunt.simulate._background import _HOUR, Context, _dc_of, _krb, _ntlm, hash_index
from duqhunt.simulate._emit import Conn
from duqhunt.simulate._world import NETBIOS_DOMAIN, REALM, Host

__all__ = [
    "PDQ_RUNNER",
    "PSEXEC_ACCOUNT_2",
    "SWD_ACCOUNT",
    "admin_psexec",
    "software_push",
    "user_shares",
]

SWD_ACCOUNT = "svc_swdeploy"
PDQ_RUNNER = "AdminArsenal\\PDQDeployRunner\\service-1\\PDQDeployRunner-1.exe"
_PACKAGE = "AdminArsenal\\PDQDeployRunner\\service-1\\exec\\AgentSetup-7.4.2-x64.msi"
PSEXEC_ACCOUNT_2 = "adm_"  # + the second administrator's user name
_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_WORDS = ("budget", "report", "minutes", "plan", "proposal", "notes", "review", "offer", "cv")


def _write(
    ctx: Context, c: Conn, t: float, share: str, name: str, size: int, mime: str | None
) -> None:
    em = ctx.em
    fuid = em.ident("F")
    em.smb_file(c, t, "SMB::FILE_OPEN", share, name, size=size, fuid=fuid)
    em.smb_file(c, t + 0.01, "SMB::FILE_WRITE", share, name, size=size, fuid=fuid)
    em.file(
        c,
        t + 0.01,
        fuid,
        source="SMB",
        is_orig=True,
        mime=mime,
        size=size,
        filename=name,
        md5=em.hexdigest(16),
        sha1=em.hexdigest(20),
        pe=bool(mime and "dosexec" in mime),
        duration=size / 5e7,
    )


def _read(ctx: Context, c: Conn, t: float, share: str, name: str, size: int, mime: str) -> None:
    em = ctx.em
    fuid = em.ident("F")
    em.smb_file(c, t, "SMB::FILE_OPEN", share, name, size=size, fuid=fuid)
    em.smb_file(c, t + 0.01, "SMB::FILE_READ", share, name, size=size, fuid=fuid)
    em.file(
        c,
        t + 0.01,
        fuid,
        source="SMB",
        is_orig=False,
        mime=mime,
        size=size,
        filename=name,
        md5=em.hexdigest(16),
        sha1=em.hexdigest(20),
        duration=size / 5e7,
    )


def user_shares(ctx: Context, present: dict[str, list[tuple[float, float]]]) -> None:
    rng, em, w = ctx.rng, ctx.em, ctx.world
    fs1, fs2 = w.file_servers
    for h in (*w.workstations, *w.engineering, *w.secure):
        if h.user is None:
            continue
        home_fs = fs1 if hash_index(h.name + "h", 2) == 0 else fs2
        home = f"\\\\{home_fs.name}\\{'Users$' if home_fs is fs1 else 'Home$'}"
        profiles = f"\\\\{fs1.name}\\Profiles$"
        for arrive, leave in present.get(h.ip, []):
            t0 = arrive + rng.uniform(20, 120)
            if t0 >= leave:
                continue
            ctx.resolve_internal(t0, h, home_fs)
            c = em.conn(
                t0,
                h.ip,
                home_fs.ip,
                445,
                service="gssapi,krb,smb",
                duration=leave - t0,
                ob=rng.randint(200_000, 4_000_000),
                rb=rng.randint(400_000, 9_000_000),
            )
            em.smb_mapping(c, t0 + 0.01, home)
            for _ in range(rng.randint(3, 14)):
                t = t0 + rng.random() * (leave - t0)
                word = rng.random() < 0.6
                base = f"{h.user}\\Documents\\{rng.choice(_WORDS)}_{rng.randint(1, 40):02d}"
                size = int(rng.lognormvariate(11.0, 0.9))
                name = base + (".docx" if word else ".xlsx")
                _read(ctx, c, t, home, name, size, _DOCX if word else _XLSX)
                for k in range(rng.choice((0, 1, 1, 2, 3))):  # saves while it is open
                    ts = t + 60.0 * (k + 1) * rng.uniform(2, 20)
                    if ts >= leave:
                        break
                    folder = base.rsplit("\\", 1)[0]
                    owner = f"{folder}\\~${base.rsplit(chr(92), 1)[-1][2:]}" + (
                        ".docx" if word else ".xlsx"
                    )
                    _write(ctx, c, ts, home, owner, 162, None)
                    tmp = (
                        f"{folder}\\~WRL{rng.randint(1, 4000):04d}.tmp"
                        if word
                        else f"{folder}\\{rng.getrandbits(32):08X}"
                    )
                    _write(ctx, c, ts + 0.2, home, tmp, size, None)
                    _write(ctx, c, ts + 0.5, home, name, size, _DOCX if word else _XLSX)
                    em.smb_file(c, ts + 0.7, "SMB::FILE_DELETE", home, tmp)
            # roaming profile: read at logon, written back at logoff
            cp = em.conn(
                arrive + 5.0,
                h.ip,
                fs1.ip,
                445,
                service="gssapi,krb,smb",
                duration=20.0,
                ob=80_000,
                rb=900_000,
            )
            em.smb_mapping(cp, arrive + 5.01, profiles)
            _read(ctx, cp, arrive + 5.1, profiles, f"{h.user}.V6\\NTUSER.DAT", 786_432, "")
            if leave < ctx.end:
                cl = em.conn(
                    leave - 30.0,
                    h.ip,
                    fs1.ip,
                    445,
                    service="gssapi,krb,smb",
                    duration=20.0,
                    ob=900_000,
                    rb=60_000,
                )
                em.smb_mapping(cl, leave - 29.9, profiles)
                for name, size in (
                    (f"{h.user}.V6\\NTUSER.DAT", 786_432),
                    (f"{h.user}.V6\\AppData\\Roaming\\Microsoft\\Templates\\Normal.dotm", 20_480),
                ):
                    _write(ctx, cl, leave - 29.8, profiles, name, size, None)
    # IT: installers into Software$, a logon script into NETLOGON, once a working day
    admin = w.admin_ws
    for day, weekday in ctx.days():
        if not weekday:
            continue
        t = day + rng.uniform(9, 16) * _HOUR
        if not ctx.start <= t < ctx.end:
            continue
        c = em.conn(t, admin.ip, fs1.ip, 445, service="gssapi,krb,smb", duration=30.0, ob=1_600_000)
        share = f"\\\\{fs1.name}\\Software$"
        em.smb_mapping(c, t + 0.01, share)
        _write(
            ctx,
            c,
            t + 0.1,
            share,
            f"Installers\\7-Zip\\7z{rng.randint(2301, 2409)}-x64.exe",
            1_575_000,
            "application/x-dosexec",
        )
        dc = w.dcs[0]
        c2 = em.conn(t + 60, admin.ip, dc.ip, 445, service="gssapi,krb,smb", duration=3.0, ob=4000)
        netlogon = f"\\\\{dc.name}\\NETLOGON"
        em.smb_mapping(c2, t + 60.01, netlogon)
        _write(ctx, c2, t + 60.1, netlogon, "logon.bat", 1_812, "text/plain")


def _service_exec(ctx: Context, c: Conn, t: float, dst: Host, ops: tuple[str, ...]) -> float:
    ipc = f"\\\\{dst.name}\\IPC$"
    ctx.em.smb_mapping(c, t - 0.05, ipc, pipe=True)
    return ctx.em.dce_rpc(c, t, "svcctl", "svcctl", ops, ipc_path=ipc)


def software_push(ctx: Context, present: dict[str, list[tuple[float, float]]], swd: Host) -> None:
    """Deployment waves from ``swd`` to every workstation online at the time, until each has
    the package; a wave works through its targets 8 at a time."""
    rng, em, w = ctx.rng, ctx.em, ctx.world
    pending = list(w.workstations)
    for day, _weekday in ctx.days():
        for hour in (10.0, 14.5):
            wave = day + hour * _HOUR + rng.uniform(0, 600)
            if not ctx.start <= wave < ctx.end or not pending:
                continue
            online = [h for h in pending if any(a <= wave < b for a, b in present.get(h.ip, []))]
            t = wave
            for i, h in enumerate(online):
                t = wave + (i // 8) * rng.uniform(20, 45) + rng.uniform(0, 5)
                if t >= ctx.end:
                    break
                ctx.resolve_internal(t, swd, h)
                size = 9_830_400
                c = em.conn(
                    t,
                    swd.ip,
                    h.ip,
                    445,
                    service="dce_rpc,gssapi,ntlm,smb",
                    duration=rng.uniform(40, 140),
                    ob=size + 2_400_000,
                    rb=rng.randint(8000, 20000),
                )
                _ntlm(ctx, c, t + 0.01, SWD_ACCOUNT, swd, h)
                admin = f"\\\\{h.name}\\ADMIN$"
                em.smb_mapping(c, t + 0.03, admin)
                _write(ctx, c, t + 0.1, admin, PDQ_RUNNER, 2_351_104, "application/x-dosexec")
                _write(ctx, c, t + 0.8, admin, _PACKAGE, size, "application/x-msi")
                te = t + rng.uniform(3, 12)
                _service_exec(
                    ctx,
                    c,
                    te,
                    h,
                    ("OpenSCManagerW", "CreateServiceW", "StartServiceW", "CloseServiceHandle"),
                )
                _service_exec(
                    ctx,
                    c,
                    te + rng.uniform(30, 120),
                    h,
                    ("OpenSCManagerW", "OpenServiceW", "ControlService", "DeleteService"),
                )
                pending.remove(h)


def admin_psexec(ctx: Context, present: dict[str, list[tuple[float, float]]]) -> list[str]:
    """PsExec sessions of two administrators; returns their accounts."""
    rng, em, w = ctx.rng, ctx.em, ctx.world
    servers = [h for h in w.hosts if h.role in ("dc", "file_server", "server", "mail", "mgmt")]
    admins: list[tuple[Host, str, bool]] = [(w.admin_ws, "adm_jsmith", True)]
    if len(w.workstations) > 1 and w.workstations[1].user:
        admins.append((w.workstations[1], PSEXEC_ACCOUNT_2 + str(w.workstations[1].user), False))
    accounts = []
    for ws, account, ntlm in admins:
        accounts.append(f"{NETBIOS_DOMAIN}\\{account}")
        mine = rng.sample(servers, min(len(servers), rng.randint(3, 6)))
        dc = _dc_of(w, ws)
        for arrive, leave in present.get(ws.ip, []):
            for _ in range(rng.randint(2, 6)):
                t = arrive + rng.random() * (leave - arrive)
                srv = rng.choice(mine)
                ctx.resolve_internal(t, ws, srv)
                if not ntlm:
                    _krb(ctx, t - 0.2, ws, dc, "TGS", f"{account}/{REALM}", f"cifs/{srv.fqdn}")
                dur = rng.uniform(20, 900)
                c = em.conn(
                    t,
                    ws.ip,
                    srv.ip,
                    445,
                    service="dce_rpc,gssapi,ntlm,smb" if ntlm else "dce_rpc,gssapi,krb,smb",
                    duration=dur,
                    ob=rng.randint(400_000, 480_000),
                    rb=rng.randint(20_000, 400_000),
                )
                if ntlm:
                    _ntlm(ctx, c, t + 0.01, account, ws, srv)
                admin = f"\\\\{srv.name}\\ADMIN$"
                em.smb_mapping(c, t + 0.03, admin)
                _write(ctx, c, t + 0.1, admin, "PSEXESVC.exe", 383_872, "application/x-dosexec")
                _service_exec(
                    ctx,
                    c,
                    t + 0.6,
                    srv,
                    ("OpenSCManagerW", "CreateServiceW", "StartServiceW", "CloseServiceHandle"),
                )
                ipc = f"\\\\{srv.name}\\IPC$"
                for p in ("PSEXESVC", f"PSEXESVC-{ws.name}-{rng.randint(1000, 9999)}-stdin"):
                    em.pipe_open(c, t + 1.0, ipc, p)
                _service_exec(
                    ctx,
                    c,
                    t + dur - 1.0,
                    srv,
                    ("OpenSCManagerW", "OpenServiceW", "ControlService", "DeleteService"),
                )
                em.smb_file(c, t + dur - 0.5, "SMB::FILE_DELETE", admin, "PSEXESVC.exe")
    return accounts
