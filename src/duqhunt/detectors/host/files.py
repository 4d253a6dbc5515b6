"""File-system detectors: the CrySyS checks (.pnf files, ~DQ temp files, drivers posing as
hardware vendors) and the PE checks (signer certificates, compile times, sections)."""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime

from duqhunt.detectors.host.base import HostArtefacts, HostContext, HostDetector, windows_path
from duqhunt.detectors.host.content import VendorClaim
from duqhunt.model import Evidence, Finding
from duqhunt.model.finding import Severity
from duqhunt.sources.host.pe import PeInfo, printable

PNF_ENTROPY_HIGH = 7.2


def duqu_file(ctx: HostContext, name: str) -> float:
    """The confidence of a Duqu file-name indicator for this name (0 when none)."""
    low = name.lower()
    return max((i.confidence for i in ctx.pack.files if i.name.lower() == low), default=0.0)


def other_signs(ctx: HostContext, h: HostArtefacts) -> bool:
    """Anything Duqu-like on the host besides ~DF temp files (used to weigh ~DF*.tmp)."""
    if any(duqu_file(ctx, f.name) for f in h.files):
        return True
    if any(p.entropy >= PNF_ENTROPY_HIGH and not p.has_inf for p in h.pnf):
        return True
    if any(f.name.lower().startswith("~dq") for f in h.files if f.kind == "temp"):
        return True
    services = {s.name.lower() for i in ctx.pack.services for s in [i]}
    return any(s.name.lower() in services for _, hf in h.hives for s in hf.services)


class OrphanPnf(HostDetector):
    """A .pnf file in Windows\\inf without a matching .inf, or with encrypted-looking content.

    Windows compiles every .inf into a .pnf beside it, so a .pnf without its .inf is odd; Duqu
    kept its encrypted main module and configuration as netp191.pnf / netp192.pnf (CrySyS).
    Catches: the Duqu file names, orphan .pnf files with high entropy (> 7.2 bits per byte).
    Misses: an implant that ships a matching .inf, or keeps its module elsewhere.
    False positives: left-over .pnf files after a driver was removed (orphan, low entropy:
    reported as info/low); compressed vendor data in a .pnf.
    """

    id = "DQ-HOST-001"
    title = "Encrypted or orphan .pnf file in Windows\\inf"
    stage = "installation"
    attack = ("T1027", "T1036.005")
    sources = ("files",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        for h in ctx.hosts:
            for p in h.pnf:
                known = duqu_file(ctx, p.file.name)
                high = p.entropy >= PNF_ENTROPY_HIGH
                if p.has_inf and not high and not known:
                    continue
                sev: Severity
                if known and (high or not p.has_inf):
                    sev, conf = "critical", known
                elif high and not p.has_inf:
                    sev, conf = "high", 0.75
                elif high:
                    sev, conf = "medium", 0.5
                else:
                    sev, conf = "low", 0.2
                why = []
                if not p.has_inf:
                    why.append("no matching .inf")
                if high:
                    why.append(f"entropy {p.entropy:.2f} bits/byte")
                if known:
                    why.append("Duqu file name")
                out.append(
                    self.finding(
                        (p.file.rel.lower(),),
                        f".pnf file {p.file.name}: {', '.join(why)}",
                        sev,
                        conf,
                        h.host,
                        p.file.mtime,
                        p.file.mtime,
                        [
                            Evidence(
                                source=str(p.file.path),
                                locator=windows_path(p.file.rel),
                                summary=", ".join(why),
                            )
                        ],
                        {
                            "file": windows_path(p.file.rel),
                            "entropy": round(p.entropy, 3),
                            "has_inf": p.has_inf,
                            "size": p.file.size,
                            "known_duqu_name": bool(known),
                        },
                    )
                )
        return out


class DuquTempFiles(HostDetector):
    """~DQ*.tmp files (Duqu's keylogger and infostealer output) in temp folders.

    ~DF*.tmp files are reported only when the host shows another Duqu sign, because Microsoft
    Office creates them all the time.
    Misses: renamed output files; files already exfiltrated and deleted.
    False positives: other software that happens to write ~DQ*.tmp names (rare).
    """

    id = "DQ-HOST-002"
    title = "Duqu-style ~DQ temp files"
    stage = "exfiltration"
    attack = ("T1056.001", "T1074.001")
    sources = ("files",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        for h in ctx.hosts:
            corroborated = other_signs(ctx, h)
            for tp in ctx.pack.temp_files:
                hits = [f for f in h.files if fnmatch.fnmatch(f.name.lower(), tp.pattern.lower())]
                if not hits or (not tp.alone and not corroborated):
                    continue
                times = [f.mtime for f in hits]
                sev: Severity = "high" if tp.alone else "medium"
                out.append(
                    self.finding(
                        (tp.pattern,),
                        f"{len(hits)} temp file(s) named {tp.pattern}",
                        sev,
                        tp.confidence if tp.alone else min(0.6, tp.confidence + 0.2),
                        h.host,
                        min(times),
                        max(times),
                        [
                            Evidence(
                                source=str(f.path),
                                locator=windows_path(f.rel),
                                summary=f"{f.size} bytes",
                            )
                            for f in hits[:20]
                        ],
                        {
                            "pattern": tp.pattern,
                            "count": len(hits),
                            "corroborated": corroborated,
                            "source": tp.source,
                        },
                    )
                )
        return out


def _claims(pe: PeInfo, claims: list[VendorClaim]) -> VendorClaim | None:
    text = " ".join(
        pe.version_get(k).lower() for k in ("CompanyName", "FileDescription", "ProductName")
    )
    for c in claims:
        if any(m in text for m in c.match):
            return c
    return None


class VendorMasquerade(HostDetector):
    """A driver whose version information claims a hardware vendor (JMicron, C-Media, IBM
    ServeRAID, Intel storage or graphics) in odd ways.

    Odd: unsigned, signed by a different organisation, a file name that vendor does not use,
    an original file name that differs from the file's, a known typo ("ServeRAID Contoller"),
    or a Duqu driver file name. One oddity gives low, two medium, three or a Duqu name high.
    Misses: a driver that copies a vendor's names exactly and is signed with a stolen
    certificate of that same vendor (see DQ-HOST-004).
    False positives: OEM repackaged drivers with their own file names; old unsigned drivers
    on 32-bit systems.
    """

    id = "DQ-HOST-003"
    title = "Driver posing as a hardware vendor's driver"
    stage = "installation"
    attack = ("T1036.005", "T1014", "T1543.003")
    sources = ("pe",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        for h in ctx.hosts:
            for f, pe in h.pe:
                if not pe.is_driver:
                    continue
                claim = _claims(pe, ctx.pack.vendor_claims)
                if claim is None:
                    continue
                odd: list[str] = []
                low = f.name.lower()
                signer = " ".join(s.organisation.lower() for s in pe.signers)
                if not pe.signers:
                    odd.append("unsigned")
                elif not any(p in signer for p in claim.signer_patterns):
                    odd.append(f"signed by {pe.signers[0].organisation!r}")
                if not any(fnmatch.fnmatch(low, p) for p in claim.file_patterns):
                    odd.append("file name not used by that vendor")
                orig = pe.version_get("OriginalFilename").lower()
                if orig and orig != low:
                    odd.append(f"original file name {orig!r}")
                vtext = " ".join(v for _, v in pe.version)
                typos = [t for t in ctx.pack.typos if t.text in vtext]
                odd.extend(f"typo {t.text!r}" for t in typos)
                known = duqu_file(ctx, f.name)
                if known:
                    odd.append("Duqu driver file name")
                if not odd:
                    continue
                sev: Severity = "low"
                if len(odd) >= 3 or known or typos:
                    sev = "high"
                elif len(odd) == 2:
                    sev = "medium"
                conf = max(known, 0.3 + 0.15 * len(odd))
                out.append(
                    self.finding(
                        (f.rel.lower(),),
                        f"{f.name} claims to be a {claim.vendor} driver: {'; '.join(odd)}",
                        sev,
                        conf,
                        h.host,
                        f.mtime,
                        f.mtime,
                        [
                            Evidence(
                                source=str(f.path),
                                locator=windows_path(f.rel),
                                summary=f"CompanyName={pe.version_get('CompanyName')!r} "
                                f"FileDescription={pe.version_get('FileDescription')!r}",
                            )
                        ],
                        {
                            "file": windows_path(f.rel),
                            "vendor": claim.vendor,
                            "oddities": "; ".join(odd),
                            "signer": pe.signers[0].organisation if pe.signers else None,
                            "compile_time": _iso(pe.compile_time),
                            "imphash": pe.imphash or None,
                        },
                    )
                )
        return out


def _iso(epoch: int) -> str | None:
    if epoch <= 0:
        return None
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def _date(text: str) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


class RevokedSigner(HostDetector):
    """A PE file signed with a certificate on the revoked or stolen list (content/host/
    certificates.yaml): the C-Media certificate that signed Duqu's cmi4432.sys (revoked
    2011-10-14) and the Foxconn (Hon Hai) certificate of Duqu 2.0's driver.

    Matches on serial or SHA-1 where the list has them, else on the subject organisation (and
    issuer, and expiry date when listed). The signature itself is not verified.
    Misses: other stolen certificates until they are added to the list; signatures stripped.
    False positives: genuine drivers of the same companies (C-Media audio, Foxconn boards)
    when the list has no serial: reported with the list's lower confidence for 'stolen'.
    """

    id = "DQ-HOST-004"
    title = "Signed with a revoked or stolen certificate"
    stage = "installation"
    attack = ("T1553.002", "T1588.003")
    sources = ("pe",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        for h in ctx.hosts:
            for f, pe in h.pe:
                for cert in pe.certificates:
                    for entry in ctx.certs.certificates:
                        exact = (
                            entry.serial
                            and entry.serial.lower().lstrip("0") == cert.serial.lstrip("0")
                        ) or (entry.sha1 and entry.sha1.lower() == cert.sha1)
                        by_name = entry.organisation.lower() in cert.subject.lower() and (
                            not entry.issuer_contains
                            or entry.issuer_contains.lower() in cert.issuer.lower()
                        )
                        na = _date(entry.not_after)
                        if by_name and na is not None and abs(cert.not_after - na) > 2 * 86400:
                            by_name = False
                        if not (exact or by_name):
                            continue
                        sev: Severity = "critical" if entry.status == "revoked" else "high"
                        if not exact and entry.status != "revoked":
                            sev = "medium"
                        out.append(
                            self.finding(
                                (f.rel.lower(), cert.sha1),
                                f"{f.name} carries the {entry.status} certificate of {entry.organisation}",
                                sev,
                                entry.confidence if not exact else max(entry.confidence, 0.95),
                                h.host,
                                f.mtime,
                                f.mtime,
                                [
                                    Evidence(
                                        source=str(f.path),
                                        locator=windows_path(f.rel),
                                        summary=f"certificate {cert.subject}",
                                    )
                                ],
                                {
                                    "file": windows_path(f.rel),
                                    "subject": cert.subject,
                                    "issuer": cert.issuer,
                                    "serial": cert.serial,
                                    "sha1": cert.sha1,
                                    "status": entry.status,
                                    "revoked": entry.revoked or None,
                                    "match": "serial/sha1" if exact else "organisation",
                                    "source": entry.source,
                                },
                            )
                        )
        return out


STANDARD_SECTIONS = frozenset(
    {
        ".text",
        ".data",
        ".rdata",
        ".rsrc",
        ".reloc",
        ".pdata",
        ".idata",
        ".edata",
        ".bss",
        ".tls",
        ".crt",
        ".didat",
        "init",
        "page",
        "pagelk",
        "pagevrfy",
        "pagekd",
        ".orpc",
        "inittext",
        "nonpage",
        ".gfids",
        ".00cfg",
        ".sdata",
        ".xdata",
        ".textbss",
        "code",
        "data",
        ".ndata",
        "paged",
        ".retplne",
        ".rodata",
        ".buildid",
        "pagewx1",
        "fothk",
        ".mrdata",
    }
)


class PeAnomalies(HostDetector):
    """Drivers, and PE files in odd places (Windows\\inf, temp folders), with odd headers:
    compile times in the future, zeroed or before 2000; section names outside the usual
    compiler set or not printable; sections both writable and executable.

    Reported low (one oddity) or medium (several); the imphash is given for pivoting.
    Misses: well-formed implants built with an ordinary toolchain.
    False positives: packed or protected commercial software; drivers built by old or unusual
    toolchains; reproducible builds that zero the time stamp.
    """

    id = "DQ-HOST-005"
    title = "PE file with odd headers"
    stage = "installation"
    attack = ("T1027.002", "T1036")
    sources = ("pe",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        for h in ctx.hosts:
            for f, pe in h.pe:
                rel = f.rel_lower()
                odd_place = "/inf/" in f"/{rel}" or "/temp/" in f"/{rel}" or "/tmp/" in f"/{rel}"
                if not (pe.is_driver or odd_place):
                    continue
                odd: list[str] = []
                if pe.compile_time == 0:
                    odd.append("compile time zero")
                elif pe.compile_time > ctx.scan_time + 86400:
                    odd.append(f"compile time in the future ({_iso(pe.compile_time)})")
                elif pe.compile_time < 946684800:
                    odd.append(f"compile time before 2000 ({_iso(pe.compile_time)})")
                names = [s.name for s in pe.sections]
                weird = [n for n in names if n.lower() not in STANDARD_SECTIONS]
                if weird:
                    shown = ", ".join(n if printable(n) else repr(n) for n in weird[:5])
                    odd.append(f"section names {shown}")
                wx = [s.name for s in pe.sections if s.writable_executable]
                if wx:
                    odd.append(f"writable and executable section {wx[0]!r}")
                if odd_place:
                    odd.append(
                        "PE file in "
                        + ("Windows\\inf" if "/inf/" in f"/{rel}" else "a temp folder")
                    )
                if not odd:
                    continue
                sev: Severity = "medium" if len(odd) >= 2 else "low"
                out.append(
                    self.finding(
                        (rel,),
                        f"{f.name}: {'; '.join(odd)}",
                        sev,
                        0.25 + 0.1 * len(odd),
                        h.host,
                        f.mtime,
                        f.mtime,
                        [
                            Evidence(
                                source=str(f.path),
                                locator=windows_path(f.rel),
                                summary="; ".join(odd),
                            )
                        ],
                        {
                            "file": windows_path(f.rel),
                            "oddities": "; ".join(odd),
                            "compile_time": _iso(pe.compile_time),
                            "sections": ",".join(n if printable(n) else "?" for n in names),
                            "imphash": pe.imphash or None,
                            "driver": pe.is_driver,
                        },
                    )
                )
        return out
