"""Host triage folders for the simulated campaign: inert, synthetic artefacts only.

For every infected host of a simulation's ground truth, a folder laid out like a Windows
volume with Duqu-like leftovers: an encrypted-looking .pnf without its .inf, a driver whose
version information claims JMicron (an inert PE: headers, zero-filled sections and version
strings, no code), ~DQ temp files, a SYSTEM .reg export with the JmiNET3 service and its FILTER
value, a SOFTWARE export without KB2639417 and with the CF1D marker, and a Security event
export (JSON Lines) with the lateral movement the ground truth records. A host that relays for
others (the ``dst`` of a ground-truth relay edge) also has a Sysmon export with the pipe's
creation (17) and its clients' connections (18), and the matching 5145 on IPC$. One clean host folder
holds the ordinary counterparts. Everything is a function of the seed; nothing is executable.
"""

from __future__ import annotations

import json
import os
import random
import struct
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["build_inert_pe", "reg_export", "write_triage_folders"]


def _vs_string(key: str, value: str) -> bytes:
    k = key.encode("utf-16-le") + b"\x00\x00"
    hdr_len = 6 + len(k)
    pad = (-hdr_len) % 4
    v = value.encode("utf-16-le") + b"\x00\x00"
    body = k + b"\x00" * pad + v
    total = 6 + len(body)
    return struct.pack("<HHH", total, len(v) // 2, 1) + body + b"\x00" * ((-total) % 4)


def build_inert_pe(
    version: dict[str, str],
    *,
    sections: Sequence[str] = (".text", ".rdata", ".rsrc"),
    timestamp: int = 1300000000,
    driver: bool = True,
    certificate_pkcs7: bytes | None = None,
    extra: bytes = b"",
) -> bytes:
    """A minimal PE32 image that parses but holds no code: zero-filled sections, version
    strings laid out as in a VS_VERSIONINFO StringTable, optionally an Authenticode table with
    the given (certs-only) PKCS#7 blob. For tests and the simulator; never meant to run."""
    falign = 0x200
    nsec = len(sections)
    headers_size = 0x200
    strings = b"".join(_vs_string(k, v) for k, v in version.items()) + extra
    raw_sizes = []
    for i, _ in enumerate(sections):
        size = falign
        if i == nsec - 1:
            size = max(falign, (len(strings) + falign - 1) // falign * falign)
        raw_sizes.append(size)
    body = bytearray()
    sec_table = bytearray()
    ptr = headers_size
    va = 0x1000
    for i, name in enumerate(sections):
        data = bytearray(raw_sizes[i])
        if i == nsec - 1:
            data[: len(strings)] = strings
        chars = 0x60000020 if i == 0 else 0x40000040
        sec_table += struct.pack(
            "<8sIIIIIIHHI",
            name.encode("latin-1")[:8],
            raw_sizes[i],
            va,
            raw_sizes[i],
            ptr,
            0,
            0,
            0,
            0,
            chars,
        )
        body += data
        ptr += raw_sizes[i]
        va += 0x1000
    image_size = va
    cert_off = headers_size + len(body)
    cert_blob = b""
    if certificate_pkcs7 is not None:
        entry = struct.pack("<IHH", 8 + len(certificate_pkcs7), 0x0200, 2) + certificate_pkcs7
        cert_blob = entry + b"\x00" * ((-len(entry)) % 8)
    dos = bytearray(0x40)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 0x40)
    coff = struct.pack(
        "<4sHHIIIHH",
        b"PE\x00\x00",
        0x14C,
        nsec,
        timestamp,
        0,
        0,
        0xE0,
        0x0102 | (0x1000 if driver else 0),
    )
    opt = bytearray(0xE0)
    struct.pack_into(
        "<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII",
        opt,
        0,
        0x10B,
        9,
        0,
        raw_sizes[0],
        0,
        0,
        0x1000,
        0x1000,
        0x2000,
        0x10000,
        0x1000,
        falign,
        5,
        1,
        5,
        1,
        5,
        1,
        0,
        image_size,
        headers_size,
        0,
        1 if driver else 2,
        0,
        0x40000,
        0x1000,
        0x100000,
        0x1000,
        0,
        16,
    )
    if cert_blob:
        struct.pack_into("<II", opt, 96 + 4 * 8, cert_off, len(cert_blob))
    head = bytes(dos) + coff + bytes(opt) + bytes(sec_table)
    head += b"\x00" * (headers_size - len(head))
    return head + bytes(body) + cert_blob


def _reg_value(name: str, value: str | int | bytes) -> str:
    n = "@" if name == "" else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int):
        return f"{n}=dword:{value:08x}"
    if isinstance(value, bytes):
        return f"{n}=hex:" + ",".join(f"{b:02x}" for b in value)
    return n + '="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reg_export(
    keys: dict[str, dict[str, str | int | bytes]], last_write: dict[str, float] | None = None
) -> str:
    """A .reg export (Windows Registry Editor 5.00) of the given keys and values."""
    lines = ["Windows Registry Editor Version 5.00", ""]
    for key, values in keys.items():
        lines.append(f"[{key}]")
        if last_write and key in last_write:
            t = datetime.fromtimestamp(last_write[key], UTC).isoformat().replace("+00:00", "Z")
            lines.append(f";LastWrite={t}")
        lines.extend(_reg_value(k, v) for k, v in values.items())
        lines.append("")
    return "\r\n".join(lines) + "\r\n"


def _event(t: float, eid: int, computer: str, channel: str, data: dict[str, object]) -> str:
    ts = datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return json.dumps(
        {
            "Event": {
                "System": {
                    "EventID": eid,
                    "TimeCreated": {"#attributes": {"SystemTime": ts}},
                    "Computer": computer,
                    "Channel": channel,
                },
                "EventData": data,
            }
        },
        sort_keys=True,
    )


def _touch(path: Path, data: bytes, t: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (t, t))


_SYS = "HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001"
_SW = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft"


def _host_name(ip: str) -> str:
    return "WS-" + ip.replace(".", "-")


def _served_pipe_events(
    name: str, t0: float, served: list[dict[str, Any]], names: dict[str, str]
) -> tuple[list[str], list[str]]:
    """What a host that relays for others over a named pipe logs of it (the relay edges of the
    ground truth whose ``dst`` it is): Sysmon 17 when the implant creates the pipe inside a
    system process, and per client a Sysmon 18 (the System process connecting the SMB client)
    and a Security 5145 on IPC$ with the client's address. Inert records, no payload."""
    sysmon: list[str] = []
    security: list[str] = []
    channel = "Microsoft-Windows-Sysmon/Operational"
    for pipe in sorted({str(e["pipe"]) for e in served}):
        sysmon.append(
            _event(
                t0 + 60,
                17,
                name,
                channel,
                {
                    "EventType": "CreatePipe",
                    "PipeName": f"\\{pipe}",
                    "Image": "C:\\Windows\\System32\\lsass.exe",
                    "ProcessId": 512,
                },
            )
        )
    for i, e in enumerate(sorted(served, key=lambda e: (str(e["src"]), str(e["pipe"])))):
        t = t0 + 3600 + 600 * i
        client = str(e["src"])
        account = (names.get(client) or _host_name(client)) + "$"
        sysmon.append(
            _event(
                t,
                18,
                name,
                channel,
                {
                    "EventType": "ConnectPipe",
                    "PipeName": f"\\{e['pipe']}",
                    "Image": "System",
                    "ProcessId": 4,
                },
            )
        )
        security.append(
            _event(
                t,
                5145,
                name,
                "Security",
                {
                    "SubjectLogonId": f"0x{0x5B000 + i * 13:x}",
                    "SubjectUserName": account,
                    "SubjectDomainName": "CORP",
                    "ShareName": "\\\\*\\IPC$",
                    "RelativeTargetName": str(e["pipe"]),
                    "AccessMask": "0x3",  # ReadData and WriteData on the pipe
                    "IpAddress": client,
                },
            )
        )
    return sysmon, security


def write_infected(
    root: Path,
    name: str,
    t0: float,
    rng: random.Random,
    moves: list[dict[str, Any]],
    served: list[dict[str, Any]] | None = None,
    names: dict[str, str] | None = None,
) -> None:
    w = root / "Windows"
    _touch(w / "inf" / "netp191.pnf", rng.randbytes(24_000), t0 + 5)
    _touch(w / "inf" / "netp192.pnf", rng.randbytes(6_000), t0 + 5)
    _touch(w / "inf" / "usbstor.inf", b"; inert\r\n", t0 - 86400 * 300)
    _touch(w / "inf" / "usbstor.pnf", b"\x01\x01" + b"usbstor " * 200, t0 - 86400 * 300)
    drv = build_inert_pe(
        {
            "CompanyName": "JMicron Technology Corp.",
            "FileDescription": "JMicron Volume Snapshot Driver",
            "OriginalFilename": "jmidebs.sys",
            "ProductName": "JMicron Volume Snapshot",
        },
        sections=(".text", ".rdata", ".rsrc"),
        extra="\\Device\\Gpd0".encode("utf-16-le"),
    )
    _touch(w / "System32" / "drivers" / "jminet7.sys", drv, t0 + 4)
    _touch(w / "Temp" / f"~DQ{rng.randrange(0x1000, 0xFFFF):X}.tmp", rng.randbytes(2000), t0 + 3600)
    _touch(w / "Temp" / "~DF1A2B.tmp", rng.randbytes(512), t0 + 3700)
    cfg = w / "System32" / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    system = reg_export(
        {
            f"{_SYS}\\Control\\ComputerName\\ComputerName": {"ComputerName": name},
            f"{_SYS}\\Services\\JmiNET3": {
                "ImagePath": "\\SystemRoot\\System32\\Drivers\\jminet7.sys",
                "Type": 1,
                "Start": 1,
                "FILTER": rng.randbytes(64),
            },
            f"{_SYS}\\Services\\Tcpip": {
                "ImagePath": "System32\\drivers\\tcpip.sys",
                "Type": 1,
                "Start": 0,
            },
        },
        {f"{_SYS}\\Services\\JmiNET3": t0 + 4},
    )
    (cfg / "SYSTEM.reg").write_text(system, encoding="utf-8")
    software = reg_export(
        {
            f"{_SW}\\Windows NT\\CurrentVersion": {"ProductName": "Windows 7 Professional"},
            f"{_SW}\\Windows\\CurrentVersion\\Internet Settings\\Zones\\4": {
                "1001": 1,
                "CF1D": rng.randbytes(32),
            },
        }
    )
    (cfg / "SOFTWARE.reg").write_text(software, encoding="utf-8")
    lines = []
    for i, mv in enumerate(moves):
        t = float(mv["time"])
        lid = f"0x{0x3A000 + i * 17:x}"
        dom, _, user = str(mv["account"]).partition("\\")
        share = str(mv.get("share", "ADMIN$"))
        f = str(mv.get("file", "x.exe"))
        rel = f.split("\\", 1)[1] if share == "ADMIN$" and "\\" in f else f
        lines.append(
            _event(
                t,
                4624,
                name,
                "Security",
                {
                    "LogonType": 3,
                    "TargetLogonId": lid,
                    "TargetUserName": user,
                    "TargetDomainName": dom,
                    "IpAddress": mv["src"],
                },
            )
        )
        lines.append(
            _event(
                t + 1,
                5140,
                name,
                "Security",
                {
                    "SubjectLogonId": lid,
                    "SubjectUserName": user,
                    "SubjectDomainName": dom,
                    "ShareName": f"\\\\*\\{share}",
                    "IpAddress": mv["src"],
                },
            )
        )
        lines.append(
            _event(
                t + 2,
                5145,
                name,
                "Security",
                {
                    "SubjectLogonId": lid,
                    "SubjectUserName": user,
                    "SubjectDomainName": dom,
                    "ShareName": f"\\\\*\\{share}",
                    "RelativeTargetName": rel,
                    "AccessMask": "0x2",  # WriteData: the copy of the planted file
                    "IpAddress": mv["src"],
                },
            )
        )
        svc = "JmiNET3" if f.endswith(".sys") else f.rsplit("\\", 1)[-1].split(".")[0]
        lines.append(
            _event(
                t + 3,
                4697,
                name,
                "Security",
                {
                    "SubjectLogonId": lid,
                    "SubjectUserName": user,
                    "SubjectDomainName": dom,
                    "ServiceName": svc,
                    "ServiceFileName": f,
                    "ServiceType": "0x1" if f.endswith(".sys") else "0x10",
                },
            )
        )
    sysmon, pipes = _served_pipe_events(name, t0, served or [], names or {})
    lines += pipes
    logs = w / "System32" / "winevt" / "Logs"
    logs.mkdir(parents=True, exist_ok=True)
    if sysmon:
        (logs / "Microsoft-Windows-Sysmon%4Operational.jsonl").write_text(
            "\n".join(sysmon) + "\n", encoding="utf-8"
        )
    (logs / "Security.jsonl").write_text(
        "\n".join(lines) + ("\n" if lines else ""), encoding="utf-8"
    )


def write_clean(root: Path, name: str, t0: float, rng: random.Random) -> None:
    w = root / "Windows"
    _touch(w / "inf" / "usbstor.inf", b"; inert\r\n", t0 - 86400 * 300)
    _touch(w / "inf" / "usbstor.pnf", b"\x01\x01" + b"usbstor " * 200, t0 - 86400 * 300)
    drv = build_inert_pe(
        {
            "CompanyName": "Intel Corporation",
            "FileDescription": "Intel Rapid Storage Technology driver",
            "OriginalFilename": "iaStorV.sys",
        },
        certificate_pkcs7=None,
    )
    _touch(
        w / "System32" / "drivers" / "e1g6032e.sys",
        build_inert_pe(
            {"CompanyName": "Intel Corporation", "FileDescription": "Intel(R) PRO/1000 Adapter"}
        ),
        t0 - 86400 * 200,
    )
    _touch(w / "System32" / "drivers" / "iaStorV.sys", drv, t0 - 86400 * 200)
    _touch(
        w / "Users" / "alice" / "AppData" / "Local" / "Temp" / "~DF3C4D.tmp", rng.randbytes(512), t0
    )
    cfg = w / "System32" / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "SYSTEM.reg").write_text(
        reg_export(
            {
                f"{_SYS}\\Control\\ComputerName\\ComputerName": {"ComputerName": name},
                f"{_SYS}\\Services\\iaStorV": {
                    "ImagePath": "system32\\DRIVERS\\iaStorV.sys",
                    "Type": 1,
                    "Start": 0,
                },
            }
        ),
        encoding="utf-8",
    )
    (cfg / "SOFTWARE.reg").write_text(
        reg_export(
            {
                f"{_SW}\\Windows NT\\CurrentVersion": {"ProductName": "Windows 7 Professional"},
                f"{_SW}\\Windows\\CurrentVersion\\Component Based Servicing\\Packages\\Package_for_KB2639417~31bf3856ad364e35~x86~~6.1.1.0": {
                    "CurrentState": 112
                },
            }
        ),
        encoding="utf-8",
    )


def write_triage_folders(out_dir: Path, truth: dict[str, Any], seed: int) -> list[Path]:
    """One triage folder per infected host in ``truth`` plus one clean host; returns them."""
    rng = random.Random(f"{seed}:host-triage")
    out_dir.mkdir(parents=True, exist_ok=True)
    start = float(truth.get("window", [1318550400.0])[0])
    infected = list(truth.get("infected") or [])
    moves_by_dst: dict[str, list[dict[str, Any]]] = {}
    for mv in truth.get("lateral_moves") or []:
        moves_by_dst.setdefault(str(mv["dst"]), []).append(mv)
    written = []
    names = truth.get("hostnames") or {}
    for ip in infected:
        root = out_dir / f"host-{ip}"
        t0 = min((float(m["time"]) for m in moves_by_dst.get(ip, [])), default=start + 3600)
        # the computer name the network telemetry knows the host by (NTLM, Kerberos, DNS)
        served = [e for e in truth.get("relay_edges") or [] if str(e.get("dst")) == ip]
        write_infected(
            root,
            str(names.get(ip) or _host_name(ip)),
            t0,
            rng,
            moves_by_dst.get(ip, []),
            served,
            {str(k): str(v) for k, v in names.items()},
        )
        written.append(root)
    clean = out_dir / "host-clean"
    write_clean(clean, "WS-CLEAN-01", start, rng)
    written.append(clean)
    return written
