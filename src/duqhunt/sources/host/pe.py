"""PE files (drivers, DLLs, executables) as data, with ``pefile``: header facts, version
strings, sections, imphash and the Authenticode certificates (parsed with ``cryptography``).

The file is read into memory (bounded by a size limit) and parsed; nothing is loaded or run.
Signatures are not verified: the signer certificates are extracted so that they can be matched
against a list of revoked or stolen certificates.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings as pywarnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from duqhunt.errors import InputError
from duqhunt.safety import Deadline

_VERSION_KEYS = (
    "CompanyName",
    "FileDescription",
    "ProductName",
    "OriginalFilename",
    "InternalName",
    "LegalCopyright",
    "FileVersion",
)


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str
    issuer: str
    serial: str  # lower-case hex, no separators
    not_before: float
    not_after: float
    organisation: str
    sha1: str


@dataclass(frozen=True, slots=True)
class SectionInfo:
    name: str
    entropy: float
    size: int
    writable_executable: bool


@dataclass(frozen=True, slots=True)
class PeInfo:
    path: str
    compile_time: int
    machine: int
    subsystem: int
    is_driver: bool
    sections: tuple[SectionInfo, ...]
    imphash: str
    version: tuple[tuple[str, str], ...]
    signers: tuple[CertInfo, ...]
    certificates: tuple[CertInfo, ...]
    warnings: tuple[str, ...] = ()
    # what a work limit or the time budget left out (the file is then partly analysed)
    partial: tuple[str, ...] = ()

    def version_get(self, key: str) -> str:
        for k, v in self.version:
            if k == key:
                return v
        return ""


# entropy work per PE file: at least this many bytes, else twice the file's size
ENTROPY_BUDGET_MIN = 4 << 20
ENTROPY_SAMPLE = 4096


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte (0..8)."""
    if not data:
        return 0.0
    n = len(data)
    return max(0.0, -sum(c / n * math.log2(c / n) for c in Counter(data).values()))


def _raw_version_strings(data: bytes) -> dict[str, str]:
    """Version strings found by their UTF-16 keys, for resources pefile could not walk."""
    out: dict[str, str] = {}
    for key in _VERSION_KEYS:
        needle = key.encode("utf-16-le") + b"\x00\x00"
        i = data.find(needle)
        if i < 0:
            continue
        j = i + len(needle)
        j += (-j) % 4  # the value starts on a 32-bit boundary
        end = j
        while end + 1 < len(data) and end - j < 1024 and data[end : end + 2] != b"\x00\x00":
            end += 2
        value = data[j:end].decode("utf-16-le", errors="replace").strip()
        if value:
            out[key] = value
    return out


def _certificates(blob: bytes) -> tuple[tuple[CertInfo, ...], tuple[CertInfo, ...]]:
    """(signers, all certificates) of a WIN_CERTIFICATE table's PKCS#7 blobs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    certs: list[x509.Certificate] = []
    off = 0
    while off + 8 <= len(blob) and len(certs) < 64:
        length = int.from_bytes(blob[off : off + 4], "little")
        ctype = int.from_bytes(blob[off + 6 : off + 8], "little")
        if length < 8 or off + length > len(blob):
            break
        if ctype == 2:  # WIN_CERT_TYPE_PKCS_SIGNED_DATA
            with contextlib.suppress(ValueError):
                certs.extend(pkcs7.load_der_pkcs7_certificates(blob[off + 8 : off + length]))
        off += (length + 7) & ~7
    infos: list[CertInfo] = []
    for c in certs:
        orgs = c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        cns = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        org = str((orgs or cns)[0].value) if (orgs or cns) else ""
        infos.append(
            CertInfo(
                subject=c.subject.rfc4514_string(),
                issuer=c.issuer.rfc4514_string(),
                serial=f"{c.serial_number:x}",
                not_before=c.not_valid_before_utc.timestamp(),
                not_after=c.not_valid_after_utc.timestamp(),
                organisation=org,
                sha1=c.fingerprint(hashes.SHA1()).hex(),
            )
        )
    issuers = {c.issuer for c in infos}
    # Leaf (signer) certificates: those that issued no other certificate in the bag.
    signers = tuple(c for c in infos if c.subject not in issuers or c.subject == c.issuer)
    return signers, tuple(infos)


def read_pe(path: Path, max_bytes: int, deadline: Deadline | None = None) -> PeInfo:
    """Facts of one PE file; InputError when it is not a PE pefile can read. Past
    ``deadline`` the import and resource directories are not parsed and section entropy is
    sampled; ``partial`` says what was left out."""
    import pefile

    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(str(path), f"larger than {max_bytes} bytes, not parsed")
    data = path.read_bytes()
    try:
        pe = pefile.PE(data=data, fast_load=True)
    except pefile.PEFormatError as exc:
        raise InputError(str(path), f"not a PE file: {exc}", offset=0) from exc
    except Exception as exc:  # pefile on hostile headers raises more than PEFormatError
        raise InputError(str(path), f"PE headers not readable: {exc}", offset=0) from exc
    warnings: list[str] = []
    partial: list[str] = []
    if deadline is not None and deadline.spent():
        partial.append(f"{deadline.reason}: import and resource directories not parsed")
        warnings.append(f"{path}: {partial[-1]}")
    else:
        try:
            pe.parse_data_directories(
                directories=[
                    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
                    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"],
                ]
            )
        except Exception as exc:  # pefile on hostile structures; keep the header facts
            warnings.append(f"{path}: data directories not fully parsed: {exc}")
    sections = []
    # Entropy is computed once per distinct byte range (a crafted file can declare 2,048
    # sections that all span it) and within a budget of bytes per file; past the budget a
    # section's entropy is measured on its first ENTROPY_SAMPLE bytes, with a warning.
    cache: dict[tuple[int, int], float] = {}
    budget = max(ENTROPY_BUDGET_MIN, 2 * len(data))
    sampled = 0
    late = False  # the time budget ran out during the sections
    for s in pe.sections:
        if not late and deadline is not None and deadline.spent():
            late, budget = True, 0
        name = s.Name.rstrip(b"\x00").decode("latin-1", errors="replace")
        chars = int(s.Characteristics)
        start = int(s.get_PointerToRawData_adj())
        end = min(
            start + min(int(s.SizeOfRawData), 1 << 20),
            int(s.PointerToRawData) + int(s.SizeOfRawData),
        )
        ent = cache.get((start, end))
        if ent is None:
            length = max(0, end - start)
            if length > budget:
                length = min(length, ENTROPY_SAMPLE)
                sampled += 1
            raw = s.get_data(length=length)
            budget -= len(raw)
            ent = round(entropy(raw), 3)
            if length == end - start:
                cache[(start, end)] = ent
        sections.append(
            SectionInfo(
                name,
                ent,
                int(s.SizeOfRawData),
                bool(chars & 0x20000000 and chars & 0x80000000),
            )
        )
    if sampled:
        why = deadline.reason if late and deadline is not None else "work limit of the file reached"
        what = (
            f"entropy of {sampled} of {len(sections)} sections measured on their "
            f"first {ENTROPY_SAMPLE} bytes ({why})"
        )
        warnings.append(f"{path}: {what}")
        partial.append(what)
    version: dict[str, str] = {}
    for fi in getattr(pe, "FileInfo", None) or []:
        for entry in fi if isinstance(fi, list) else [fi]:
            for st in getattr(entry, "StringTable", []) or []:
                for k, v in st.entries.items():
                    ks = k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)
                    vs = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                    version[ks] = vs.strip()
    if not version:
        version = _raw_version_strings(data)
    try:
        imphash = pe.get_imphash() or ""
    except Exception:  # no or broken import table
        imphash = ""
    # NumberOfRvaAndSizes may be smaller than the security entry's index (or zero)
    directories = pe.OPTIONAL_HEADER.DATA_DIRECTORY
    sec_index = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]
    sec_dir = directories[sec_index] if len(directories) > sec_index else None
    signers: tuple[CertInfo, ...] = ()
    certs: tuple[CertInfo, ...] = ()
    if sec_dir is not None and sec_dir.VirtualAddress and sec_dir.Size:
        blob = data[sec_dir.VirtualAddress : sec_dir.VirtualAddress + sec_dir.Size]
        try:
            # cryptography warns about damaged blobs (a BER retry, a negative serial) before
            # it raises or reads them: the damage shows in what is extracted, not as warnings
            with pywarnings.catch_warnings():
                pywarnings.simplefilter("ignore")
                signers, certs = _certificates(blob)
        except Exception as exc:  # malformed certificate table: report, keep the rest
            warnings.append(f"{path}: Authenticode table not parsed: {exc}")
    subsystem = int(pe.OPTIONAL_HEADER.Subsystem)
    is_driver = subsystem == 1 or path.suffix.lower() == ".sys"
    return PeInfo(
        path=str(path),
        compile_time=int(pe.FILE_HEADER.TimeDateStamp),
        machine=int(pe.FILE_HEADER.Machine),
        subsystem=subsystem,
        is_driver=is_driver,
        sections=tuple(sections),
        imphash=imphash,
        version=tuple(sorted(version.items())),
        signers=signers,
        certificates=certs,
        warnings=tuple(warnings),
        partial=tuple(partial),
    )


_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")


def printable(name: str) -> bool:
    return bool(_PRINTABLE.match(name))
