"""Inert host artefacts built in code for the host tests: a minimal registry hive (regf) writer,
Task Scheduler 1.0 .job files, a synthetic code-signing certificate, and FAT and NTFS disk
images of a triage folder built without mounting (mtools; ntfs-3g's mkntfs and ntfscp, with
libntfs-3g for the folders ntfscp cannot create).

Everything here is data: no code is generated, nothing is executed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import struct
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

T0 = 1318560431.0
TRUTH: dict[str, Any] = {
    "window": [1318550400.0, 1318593600.0],
    "infected": ["10.1.0.29"],
    "lateral_moves": [
        {
            "src": "10.1.0.16",
            "dst": "10.1.0.29",
            "time": T0,
            "method": "service",
            "share": "ADMIN$",
            "file": "system32\\drivers\\jminet7.sys",
            "account": "CORP\\adm_jsmith",
        },
    ],
}

# --- registry hives -----------------------------------------------------------------------

HiveValue = str | int | bytes | list[str]
# a key: its values and its subkeys by name
HiveKey = tuple[dict[str, HiveValue], dict[str, "HiveKey"]]

_FILETIME_2011 = 0x01CC8A2B5E3F0000  # 2011-10-14, the Duqu infection window
_REG_SZ, _REG_BINARY, _REG_DWORD, _REG_MULTI_SZ = 1, 3, 4, 7


def _cell(buf: bytearray, data: bytes) -> int:
    """Append an allocated cell (negative size, 8-byte aligned); its offset in the bins."""
    off = len(buf)
    size = (4 + len(data) + 7) & ~7
    buf += struct.pack("<i", -size) + data + b"\x00" * (size - 4 - len(data))
    return off


def _value_data(v: HiveValue) -> tuple[int, bytes]:
    if isinstance(v, int):
        return _REG_DWORD, struct.pack("<I", v & 0xFFFFFFFF)
    if isinstance(v, str):
        return _REG_SZ, (v + "\x00").encode("utf-16-le")
    if isinstance(v, list):
        return _REG_MULTI_SZ, ("".join(s + "\x00" for s in v) + "\x00").encode("utf-16-le")
    return _REG_BINARY, bytes(v)


def build_hive(root: HiveKey, name: str = "SYSTEM", filetime: int = _FILETIME_2011) -> bytes:
    """A registry hive file (regf 1.5, one hive bin) holding ``root``'s keys and values.

    The root key is the first cell of the first bin, where regipy looks for it; python-registry
    follows the root cell offset of the base block instead. Key and value names are ASCII
    (stored compressed), subkey lists are 'lf' lists sorted as Windows sorts them.
    """
    buf = bytearray(32)  # the hbin header, written last

    def key(k: HiveKey, kname: str, parent: int, flags: int) -> int:
        values, subs = k
        nm = kname.encode("ascii")
        nk_off = _cell(buf, b"nk" + b"\x00" * 74 + nm)  # filled in below
        children = [(key(subs[s], s, nk_off, 0x20), s) for s in sorted(subs, key=str.upper)]
        vks = []
        for vname, v in values.items():
            vtype, data = _value_data(v)
            vn = vname.encode("ascii")
            if len(data) <= 4:  # stored in the offset field itself
                size = len(data) | 0x80000000
                doff = struct.unpack("<I", data.ljust(4, b"\x00"))[0]
            else:
                size, doff = len(data), _cell(buf, data)
            vk = b"vk" + struct.pack("<HIIIHH", len(vn), size, doff, vtype, 1, 0) + vn
            vks.append(_cell(buf, vk))
        lf = vl = 0xFFFFFFFF
        if children:
            entries = b"".join(
                struct.pack("<I", o) + s.encode("ascii")[:4].ljust(4, b"\x00") for o, s in children
            )
            lf = _cell(buf, b"lf" + struct.pack("<H", len(children)) + entries)
        if vks:
            vl = _cell(buf, b"".join(struct.pack("<I", o) for o in vks))
        nk = struct.pack(
            "<2sHQIIIIIIIIIIIIIIIHH",
            b"nk",
            flags,
            filetime,
            0,
            parent,
            len(children),
            0,
            lf,
            0xFFFFFFFF,
            len(vks),
            vl,
            0xFFFFFFFF,  # no security cell
            0xFFFFFFFF,  # no class name
            max((2 * len(s) for s in subs), default=0),
            0,
            max((2 * len(v) for v in values), default=0),
            0,
            0,
            len(nm),
            0,
        )
        buf[nk_off + 4 : nk_off + 4 + len(nk)] = nk
        return nk_off

    root_off = key(root, "ROOT", 0, 0x2C)  # KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME
    size = (len(buf) + 0xFFF) & ~0xFFF
    if size > len(buf):  # the rest of the bin is one free cell
        free = size - len(buf)
        buf += struct.pack("<i", free) + b"\x00" * (free - 4)
    buf[0:32] = b"hbin" + struct.pack("<IIIIQI", 0, size, 0, 0, filetime, 0)
    base = bytearray(4096)
    struct.pack_into(
        "<4sIIQIIIIIII", base, 0, b"regf", 1, 1, filetime, 1, 5, 0, 1, root_off, size, 1
    )
    fn = f"\\??\\C:\\Windows\\System32\\config\\{name}".encode("utf-16-le")[-64:]
    base[0x30 : 0x30 + len(fn)] = fn
    xsum = 0
    for i in range(0, 0x1FC, 4):
        xsum ^= struct.unpack_from("<I", base, i)[0]
    struct.pack_into("<I", base, 0x1FC, xsum)
    return bytes(base) + bytes(buf)


ROOT_CELL_OFFSET = 0x24  # where the base block says the root key is


def system_hive_tree(computer: str = "WS-10-1-0-29") -> HiveKey:
    """A SYSTEM hive with the Duqu service (JmiNET3 with its FILTER value) beside Tcpip."""
    services: dict[str, HiveKey] = {
        "JmiNET3": (
            {
                "ImagePath": "\\SystemRoot\\System32\\Drivers\\jminet7.sys",
                "Type": 1,
                "Start": 1,
                "FILTER": bytes(range(64)),
            },
            {},
        ),
        "Tcpip": (
            {
                "ImagePath": "System32\\drivers\\tcpip.sys",
                "Type": 1,
                "Start": 0,
                "DisplayName": "TCP/IP Protocol Driver",
                "DependOnService": ["NSI", "Afd"],
            },
            {"Parameters": ({"Hostname": computer.lower()}, {})},
        ),
    }
    control: HiveKey = (
        {},
        {"ComputerName": ({}, {"ComputerName": ({"ComputerName": computer}, {})})},
    )
    return (
        {},
        {
            "Select": ({"Current": 1, "Default": 1, "LastKnownGood": 1}, {}),
            "ControlSet001": ({}, {"Control": control, "Services": ({}, services)}),
        },
    )


# --- Task Scheduler 1.0 job files ------------------------------------------------------------


def job_bytes(app: str, params: str, author: str) -> bytes:
    """A .job file (MS-TSCH 2.4): fixed section with a last-run time, then the strings."""
    fixed = bytearray(68)
    struct.pack_into("<HH", fixed, 0, 0x0601, 1)
    struct.pack_into("<8H", fixed, 52, 2011, 10, 5, 14, 9, 30, 0, 0)

    def u(s: str) -> bytes:
        enc = (s + "\x00").encode("utf-16-le") if s else b""
        return struct.pack("<H", len(enc) // 2) + enc

    return bytes(fixed) + b"\x00\x00" + u(app) + u(params) + u("") + u(author) + u("")


# --- code signing ---------------------------------------------------------------------------


def cert_pkcs7(org: str, not_after: datetime) -> bytes:
    """A certs-only PKCS#7 blob with one synthetic certificate issued to ``org``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, org),
        ]
    )
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "VeriSign, Inc."),
            x509.NameAttribute(
                NameOID.COMMON_NAME, "VeriSign Class 3 Code Signing 2009-2 CA (synthetic)"
            ),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(0x1234)
        .not_valid_before(not_after - timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return pkcs7.serialize_certificates([cert], serialization.Encoding.DER)


# --- disk images, built without mounting ---------------------------------------------------


def _tools(*names: str) -> list[str]:
    """The programs' paths (also from the sbin folders a user's PATH often leaves out, where
    mkntfs and mkfs.vfat live); skips the test naming the missing ones and their package."""
    found = {n: shutil.which(n) or shutil.which(n, path="/usr/sbin:/sbin") for n in names}
    missing = [n for n, p in found.items() if p is None]
    if missing:
        pkgs = "ntfs-3g" if "mkntfs" in names else "dosfstools, mtools"
        pytest.skip(f"{', '.join(missing)} not installed (apt packages {pkgs})")
    return [str(found[n]) for n in names]


def fat_image(folder: Path, img: Path) -> None:
    """A FAT volume holding the files of ``folder`` (mkfs.vfat and mcopy)."""
    mkfs, mcopy = _tools("mkfs.vfat", "mcopy")
    env = {**os.environ, "TZ": "UTC", "MTOOLS_SKIP_CHECK": "1"}
    subprocess.run([mkfs, "-C", str(img), "16384"], check=True, capture_output=True)
    srcs = [str(p) for p in sorted(folder.iterdir())]
    subprocess.run(
        [mcopy, "-s", "-m", "-i", str(img), *srcs, "::/"],
        check=True,
        capture_output=True,
        env=env,
    )


def _libntfs() -> Any:
    """libntfs-3g (from the ntfs-3g package) through ctypes, for the folders of an image."""
    name = ctypes.util.find_library("ntfs-3g")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    ptr = ctypes.c_void_p
    lib.ntfs_mount.restype = ptr
    lib.ntfs_mount.argtypes = [ctypes.c_char_p, ctypes.c_uint32]
    lib.ntfs_umount.restype = ctypes.c_int
    lib.ntfs_umount.argtypes = [ptr, ctypes.c_int]
    lib.ntfs_pathname_to_inode.restype = ptr
    lib.ntfs_pathname_to_inode.argtypes = [ptr, ptr, ctypes.c_char_p]
    lib.ntfs_create.restype = ptr
    lib.ntfs_create.argtypes = [
        ptr,
        ctypes.c_uint32,
        ctypes.c_char_p,
        ctypes.c_uint8,
        ctypes.c_uint32,
    ]
    lib.ntfs_inode_close.restype = ctypes.c_int
    lib.ntfs_inode_close.argtypes = [ptr]
    return lib


def _ntfs_mkdirs(lib: Any, img: Path, folders: list[str]) -> None:
    """Create ``folders`` ('/'-separated, parents first) in the NTFS volume of ``img``.

    ntfscp copies files but cannot create folders; libntfs-3g opens the image file in-process
    (ntfs_mount opens a device or image file for the library, nothing is mounted in the kernel)
    and ntfs_create makes each folder, as ntfs-3g's own mkdir does.
    """
    vol = lib.ntfs_mount(str(img).encode(), 0)
    if not vol:
        raise OSError(ctypes.get_errno(), f"libntfs-3g cannot open {img}")
    try:
        for rel in folders:
            parent, _, name = ("/" + rel).rpartition("/")
            dir_ni = lib.ntfs_pathname_to_inode(vol, None, (parent or "/").encode())
            if not dir_ni:
                raise OSError(ctypes.get_errno(), f"{parent or '/'}: not found in {img}")
            try:
                ni = lib.ntfs_create(dir_ni, 0, name.encode("utf-16-le"), len(name), 0o040000)
                if not ni:
                    raise OSError(ctypes.get_errno(), f"cannot create {rel} in {img}")
                lib.ntfs_inode_close(ni)
            finally:
                lib.ntfs_inode_close(dir_ni)
    finally:
        if lib.ntfs_umount(vol, 0) != 0:
            raise OSError(ctypes.get_errno(), f"libntfs-3g cannot close {img}")


def ntfs_image(folder: Path, img: Path, size_mb: int = 8) -> None:
    """An NTFS volume holding the files of ``folder``: mkntfs, the folders through libntfs-3g,
    each file with ``ntfscp -t`` (which keeps its modification time)."""
    mkntfs, ntfscp = _tools("mkntfs", "ntfscp")
    lib = _libntfs()
    if lib is None:
        pytest.skip("libntfs-3g not found (apt package ntfs-3g)")
    with img.open("wb") as fh:
        fh.truncate(size_mb << 20)
    subprocess.run(
        [mkntfs, "--force", "--fast", "--quiet", "--label", "duqhunt-test", str(img)],
        check=True,
        capture_output=True,
    )
    rels = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    dirs = sorted((r for r in rels if (folder / r).is_dir()), key=lambda r: (len(r.parts), r))
    _ntfs_mkdirs(lib, img, [r.as_posix() for r in dirs])
    for r in rels:
        if (folder / r).is_file():
            subprocess.run(
                [
                    ntfscp,
                    "--force",
                    "--quiet",
                    "--timestamp",
                    str(img),
                    str(folder / r),
                    "/" + r.as_posix(),
                ],
                check=True,
                capture_output=True,
            )


def ntfs_grow(img: Path, folder: str, name: str, size: int) -> None:
    """Make a file of the NTFS image claim ``size`` bytes (its $DATA extended, as damage or a
    huge file would leave it) with ntfstruncate, which takes the file's inode number."""
    ntfsls, ntfstruncate = _tools("ntfsls", "ntfstruncate")
    listing = subprocess.run(
        [ntfsls, "--inode", "--path", folder, str(img)], check=True, capture_output=True, text=True
    ).stdout
    inode = next(ln.split()[0] for ln in listing.splitlines() if ln.split()[1:] == [name])
    subprocess.run(
        [ntfstruncate, "-f", str(img), inode, str(size)], check=True, capture_output=True
    )


# --- event logs as JSON exports -------------------------------------------------------------


def event_line(
    t: str,
    eid: int,
    data: dict[str, str],
    channel: str = "Security",
    computer: str = "WS07.corp.example",
    record: int = 0,
) -> str:
    """One event as a JSON line in the shape ``evtx_dump`` writes (``Event.System`` and
    ``Event.EventData``): what the host scan reads from an event-log export."""
    system: dict[str, Any] = {
        "EventID": eid,
        "TimeCreated": {"#attributes": {"SystemTime": t}},
        "Computer": computer,
        "Channel": channel,
    }
    if record:
        system["EventRecordID"] = record
    return json.dumps({"Event": {"System": system, "EventData": data}})
