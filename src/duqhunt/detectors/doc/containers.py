"""Per-file document analysis: sniff the container, walk it within limits, run every check.

Formats: OLE2 (.doc/.dot/.xls/.ppt/.msg...), OOXML (.docx/.docm/.xlsx/.pptx...), RTF, fonts
(sfnt/TTC/WOFF/WOFF2/EOT), zip archives, and Word 2003 XML / CSV for DDE. oletools/olefile are
used as libraries (olevba for macros, msodde for DDE, oleobj/rtfobj for objects); what they
are handed, and when they need not run, is decided in parsergate.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from duqhunt.detectors.doc.bytescan import find_pe
from duqhunt.detectors.doc.catalogue import (
    DDE,
    EmbeddedFont,
    EmbeddedObject,
    EmbeddedPE,
    Emitter,
    Encrypted,
    ExternalReference,
    Macros,
    MalformedContainer,
)
from duqhunt.detectors.doc.fontcheck import analyse_font
from duqhunt.detectors.doc.parsergate import (
    msodde_finds_nothing_in_ole,
    msodde_finds_nothing_in_zip,
    rtf_parser,
    zip_over_limits,
)
from duqhunt.errors import InputError
from duqhunt.model.finding import Severity
from duqhunt.sources.office import ole as olemod
from duqhunt.sources.office import ooxml, rtf, zipsafe
from duqhunt.sources.office.eot import mtx_locator, parse_eot
from duqhunt.sources.office.fonts import sniff_font
from duqhunt.sources.office.limits import Budget, DocContent

log = logging.getLogger(__name__)

EXEC_EXT = frozenset(
    [
        ".exe",
        ".dll",
        ".scr",
        ".com",
        ".pif",
        ".cpl",
        ".bat",
        ".cmd",
        ".vbs",
        ".vbe",
        ".js",
        ".jse",
        ".wsf",
        ".wsh",
        ".ps1",
        ".hta",
        ".lnk",
        ".jar",
        ".msi",
        ".reg",
        ".sys",
        ".inf",
    ]
)
SUSPICIOUS_RELS: dict[str, Severity] = {
    "attachedTemplate": "high",
    "oleObject": "medium",
    "frame": "medium",
    "subDocument": "medium",
}
_DDE_RE = re.compile(rb"DDEAUTO|\bDDE\b", re.IGNORECASE)
_CSV_DDE_RE = re.compile(rb"(?m)^[=+\-@][^|\n]{0,64}\|\s*'[^'\n]{0,256}'![A-Za-z]*\d*")
_XLM_RE = re.compile(rb"\b(EXEC|CALL|REGISTER|RUN|FOPEN|FWRITE|URLDownloadToFile)\(", re.IGNORECASE)

Extract = Callable[[str, bytes], None]


@dataclass(slots=True)
class Outcome:
    kind: str = "unknown"
    encrypted: bool = False
    unsupported: str = ""
    malformed: str = ""
    # why part of the file was not analysed (a member nested past the limit, a container
    # oletools would read past the limits, a parser out of memory): the file is partial
    partial: str = ""
    fonts: int = 0
    objects: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Walker:
    path: Path
    em: Emitter
    content: DocContent
    budget: Budget
    extract: Extract | None
    out: Outcome = field(default_factory=Outcome)
    top: bytes = b""  # the file's bytes: what msodde reads when it is given the path

    # ---- entry -------------------------------------------------------------------------
    def analyse(self, data: bytes, where: str, depth: int = 0) -> None:
        if depth == 0:
            self.top = data
        if depth > self.budget.limits.max_depth:
            self.partly(f"nested deeper than {self.budget.limits.max_depth}")
            self.em.emit(
                MalformedContainer,
                "low",
                where,
                f"nesting deeper than {self.budget.limits.max_depth}; not analysed",
            )
            return
        self.budget.check_time(where)
        kind = sniff(data, where)
        if depth == 0:
            self.out.kind = kind
        try:
            if kind == "ole":
                self.ole(data, where, depth)
            elif kind == "zip":
                self.zip(data, where, depth)
            elif kind == "rtf":
                self.rtf(data, where, depth)
            elif kind == "font":
                self.font(data, where)
            elif kind == "xml":
                self.flat_xml(data, where)
            elif kind == "sylk":
                # olevba reads SYLK macro sheets (O;E option, NN names, C;...;E formulas); the
                # keyword scan is the fallback when it finds none
                self.dde_text(data, where, xlm=not self.macros(data, where))
            elif kind == "csv":
                self.dde_text(data, where)
            elif depth == 0:
                self.out.unsupported = "not a recognised document, font or archive"
        except InputError as exc:
            self.malformed(where, exc)

    def partly(self, reason: str) -> None:
        """Part of the file is not analysed, for ``reason``: the file is never called clean."""
        if reason not in self.out.partial:
            self.out.partial = f"{self.out.partial}; {reason}" if self.out.partial else reason

    def oletools_may_read(self, data: bytes, where: str) -> bool:
        """oletools re-open a container on their own, outside the member budget (msodde parses
        every XML part of a zip, olevba reads every OLE part whole): a zip whose parts declare
        more than the limits is not handed to them, and the file is partly analysed."""
        why = zip_over_limits(data, self.budget.limits)
        if why:
            what = f"{why}; not handed to oletools (macros and DDE fields not checked)"
            self.partly(f"{where}: {what}")
            self.em.emit(MalformedContainer, "low", where, what, key=f"oletools-limit{where}")
        return not why

    def malformed(self, where: str, exc: InputError) -> None:
        at = f" at byte 0x{exc.offset:x}" if exc.offset is not None else ""
        self.em.emit(MalformedContainer, "medium", where, f"{exc.reason}{at}", key="malformed")
        if not self.out.malformed:
            self.out.malformed = exc.reason

    def save(self, name: str, data: bytes) -> None:
        if self.extract is not None:
            self.extract(name, data)

    # ---- fonts -------------------------------------------------------------------------
    def font(self, data: bytes, where: str, *, embedded: bool = False) -> None:
        self.budget.count(where)
        self.out.fonts += 1
        where += mtx_locator(data, str(self.path), where, self.budget)  # MTX: decode once, name it
        res = analyse_font(data, self.em, where, self.content, self.budget)
        if embedded:
            names = ", ".join(res.names[:3]) or "unnamed"
            state = res.note or ("decoded" if res.decoded else "not decoded")
            self.em.emit(
                EmbeddedFont,
                "info",
                where,
                f"embedded font ({res.kind}; {names}; {state})",
                key="font",
            )
        if res.decoded is not None:
            self.save(where, res.decoded)

    # ---- OLE2 --------------------------------------------------------------------------
    def ole(self, data: bytes, where: str, depth: int) -> None:
        import olefile

        try:
            of = olefile.OleFileIO(io.BytesIO(data))
        except Exception as exc:  # olefile raises OSError, struct.error, IndexError...
            raise InputError(
                str(self.path), f"{where}: OLE2 file not readable ({type(exc).__name__}: {exc})"
            ) from None
        with of:
            streams = of.listdir(streams=True, storages=False)
            if len(streams) > self.budget.limits.max_objects:
                raise InputError(str(self.path), f"{where}: {len(streams)} OLE streams")
            names = {"/".join(s) for s in streams}
            encrypted = "EncryptionInfo" in names or "EncryptedPackage" in names
            word = self._stream(of, ["WordDocument"], where) if "WordDocument" in names else None
            if not encrypted:
                encrypted = self._ole_flag_encrypted(of, names, word)
            if encrypted:
                self.out.encrypted = True
                self.em.emit(
                    Encrypted,
                    "info",
                    where,
                    "document is encrypted; contents not analysed",
                    key="enc",
                    confidence=0.95,
                )
                if depth == 0:
                    self.out.kind = "ole-encrypted"
                return
            if word is not None:
                self._word_fonts(of, word, where)
            if "PowerPoint Document" in names:
                self._ppt_fonts(of, where)
            for s in streams:
                leaf = s[-1]
                if leaf == "\x01Ole10Native":
                    self._ole_native(self._stream(of, s, where), f"{where}:{'/'.join(s)}")
                elif leaf in ("\x01CompObj",) and len(s) > 1:
                    self.out.objects += 1
                    cls = _compobj_class(self._stream(of, s, where))
                    self.em.emit(
                        EmbeddedObject,
                        "low",
                        f"{where}:{'/'.join(s[:-1])}",
                        f"embedded OLE object ({cls or 'unknown class'})",
                        key="/".join(s),
                    )
                elif leaf.lower() in ("package",) and len(s) > 1:
                    inner = self._stream(of, s, where)
                    self.analyse(inner, f"{where}:{'/'.join(s)}", depth + 1)
        if depth == 0:
            self.macros(data, where)
            if not msodde_finds_nothing_in_ole(data):
                self.dde_file(where)

    def _stream(self, of: object, s: list[str], where: str) -> bytes:
        size = of.get_size(s)  # type: ignore[attr-defined]
        if size > self.budget.limits.max_member_bytes:
            raise InputError(
                str(self.path), f"{where}:{'/'.join(s)}: stream of {size} bytes exceeds the limit"
            )
        self.budget.take(size, where)
        self.budget.count(where)
        try:
            return bytes(of.openstream(s).read())  # type: ignore[attr-defined]
        except Exception as exc:
            raise InputError(
                str(self.path), f"{where}:{'/'.join(s)}: stream not readable ({exc})"
            ) from None

    def _ole_flag_encrypted(self, of: object, names: set[str], word: bytes | None) -> bool:
        if word is not None:
            fib = olemod.parse_fib(word)
            return bool(fib and fib.encrypted)
        if "Workbook" in names or "Book" in names or "PowerPoint Document" in names:
            try:
                from oletools import crypto

                return bool(crypto.is_encrypted(of))
            except Exception:
                return False
        return False

    def _word_fonts(self, of: object, word: bytes, where: str) -> None:
        """Embedded fonts of a Word .doc: through the FIB and SttbTtmbd first; EOT carving over
        the WordDocument stream only when that path finds none (locators say which path)."""
        fib = olemod.parse_fib(word)
        if fib is not None and self._sttb_fonts(of, word, fib, where):
            return
        for k, o in enumerate(olemod.embedded_font_offsets(word)):
            self._eot_at(word, o, f"{where}:WordDocument, carved EOT {k}, offset 0x{o:x}")

    def _sttb_fonts(self, of: object, word: bytes, fib: olemod.WordFib, where: str) -> int:
        """FIB -> SttbTtmbd (table stream) -> Ttmbd.fc -> EOT in WordDocument. Inconsistencies
        become DQ-DOC-016 findings; returns how many entries led to an EOT structure."""
        if fib.problem:
            self.em.emit(
                MalformedContainer,
                "medium",
                f"{where}:WordDocument, FIB",
                f"{fib.problem} at byte 0x{fib.problem_offset:x}",
                key="fib",
            )
            return 0
        if not fib.lcb_ttmbd:
            return 0
        tname = fib.table_stream
        tloc = f"{where}:{tname}, SttbTtmbd at 0x{fib.fc_ttmbd:x}"
        if not of.exists(tname):  # type: ignore[attr-defined]
            self.em.emit(
                MalformedContainer,
                "medium",
                f"{where}:WordDocument, FIB",
                f"the FIB locates an SttbTtmbd in {tname} but there is no {tname} stream",
                key="notable",
            )
            return 0
        table = self._stream(of, [tname], where)
        try:
            sttb = olemod.parse_sttb_ttmbd(table, fib, str(self.path), tname)
        except InputError as exc:
            self.malformed(tloc, exc)
            return 0
        if sttb is None:
            return 0
        for pr in sttb.problems:
            self.em.emit(
                MalformedContainer,
                "medium" if pr.severe else "low",
                tloc,
                f"{pr.reason} (byte 0x{pr.offset:x} of {pr.stream})",
                key=f"sttb{pr.offset}:{pr.reason[:40]}",
            )
        found = 0
        seen: set[int] = set()
        for e in sttb.entries:
            try:
                eot = olemod.ttmbd_eot(word, e, str(self.path), "WordDocument")
            except InputError as exc:
                self.malformed(
                    f"{where}:{tname}, SttbTtmbd entry {e.index} at 0x{e.entry_offset:x}", exc
                )
                continue
            found += 1
            if e.fc in seen:
                continue
            seen.add(e.fc)
            self.font(
                eot,
                f"{where}:WordDocument, SttbTtmbd entry {e.index}, offset 0x{e.fc:x}",
                embedded=True,
            )
        return found

    def _ppt_fonts(self, of: object, where: str) -> None:
        ppt = self._stream(of, ["PowerPoint Document"], where)
        for h in olemod.ppt_font_records(ppt):
            self._eot_at(ppt, h + 8, f"{where}:PowerPoint Document, record 0x0FB8 at 0x{h:x}")
        for h, compressed, body in olemod.ppt_ole_objects(ppt):
            loc = f"{where}:PowerPoint Document, ExOleObjStg at 0x{h:x}"
            inner = body
            if compressed:
                from duqhunt.sources.office.fonts import _inflate

                size = int.from_bytes(body[:4], "little")
                try:
                    inner = _inflate(body[4:], size, self.budget, loc)
                except InputError as exc:
                    self.malformed(loc, exc)
                    continue
            self.out.objects += 1
            self.em.emit(
                EmbeddedObject,
                "low",
                loc,
                f"embedded OLE object ({_ole_class(inner) or 'unknown class'})",
                key=f"pptobj{h}",
            )
            self.analyse(inner, loc, 1)

    def _eot_at(self, stream: bytes, o: int, loc: str) -> None:
        size = int.from_bytes(stream[o : o + 4], "little")
        self.font(stream[o : o + size], loc, embedded=True)

    def _ole_native(self, raw: bytes, where: str) -> None:
        from oletools import oleobj

        self.out.objects += 1
        try:
            pkg = oleobj.OleNativeStream(bindata=raw)
        except Exception as exc:
            self.em.emit(
                EmbeddedObject,
                "medium",
                where,
                f"OLE Package not parsed ({type(exc).__name__})",
                key="pkg",
            )
            return
        fname = _text(pkg.filename) or _text(pkg.src_path) or "?"
        payload = bytes(pkg.data or b"")
        ext = Path(fname.replace("\\", "/")).suffix.lower()
        is_pe = bool(find_pe(payload[:4096], limit=1)) or payload[:2] == b"MZ"
        sev: Severity = "high" if ext in EXEC_EXT or is_pe else "low"
        self.em.emit(
            EmbeddedObject,
            sev,
            where,
            f"OLE Package embeds {fname!r} ({len(payload)} bytes; source {_text(pkg.src_path)!r})",
            title="Embedded executable in OLE Package" if sev == "high" else None,
            key=f"pkg{fname}",
            details={"filename": fname, "sha256": hashlib.sha256(payload).hexdigest()},
        )
        if is_pe:
            self.em.emit(
                EmbeddedPE,
                "high",
                where,
                f"OLE Package payload {fname!r} is a Windows PE executable",
                key=f"pe{fname}",
                confidence=0.95,
            )
        self.save(f"{where}/{Path(fname.replace(chr(92), '/')).name}", payload)

    # ---- macros / DDE (oletools) -------------------------------------------------------
    def macros(self, data: bytes, where: str) -> bool:
        """VBA and XLM macros through olevba (as a library); True when a finding was made."""
        from oletools import olevba

        if not self.oletools_may_read(data, where):
            return False
        try:
            vp = olevba.VBA_Parser(str(self.path), data=data, relaxed=True)
        except MemoryError:
            self.partly(f"olevba ran out of memory on {where}")
            return False
        except Exception:
            return False
        try:
            has_vba = bool(vp.detect_vba_macros())
            has_xlm = bool(vp.detect_xlm_macros())
            if not (has_vba or has_xlm):
                return False
            results = vp.analyze_macros() or []
            autoexec = sorted({str(k) for t, k, _d in results if t == "AutoExec"})
            susp = sorted({str(k) for t, k, _d in results if t == "Suspicious"})
            iocs = sorted({str(k) for t, k, _d in results if t == "IOC"})
            sev: Severity = "high" if autoexec and susp else "medium"
            kinds = "+".join(x for x, on in (("VBA", has_vba), ("XLM", has_xlm)) if on)
            summary = f"{kinds} macros; auto-exec: {', '.join(autoexec[:5]) or 'none'}; suspicious: {', '.join(susp[:6]) or 'none'}"
            if iocs:
                summary += f"; IOCs: {', '.join(iocs[:3])}"
            self.em.emit(
                Macros, sev, where, summary, key="macros", details={"vba": has_vba, "xlm": has_xlm}
            )
        except Exception as exc:
            if isinstance(exc, MemoryError):
                self.partly(f"olevba ran out of memory on {where}")
            self.em.emit(
                Macros,
                "low",
                where,
                f"macros present but olevba analysis failed ({type(exc).__name__})",
                key="macros",
            )
        finally:
            with contextlib.suppress(Exception):
                vp.close()
        return True

    def dde_file(self, where: str, data: bytes | None = None, suffix: str = "") -> None:
        """msodde reads files by path: nested members go through a private temporary file."""
        from oletools import msodde

        if not self.oletools_may_read(self.top if data is None else data, where):
            return
        try:
            if data is None:
                text = msodde.process_file(str(self.path), msodde.FIELD_FILTER_DDE)
            else:
                import tempfile

                with tempfile.TemporaryDirectory(prefix="duqhunt-dde-") as tmp:
                    tp = Path(tmp) / f"member{suffix[-8:] if suffix.startswith('.') else ''}"
                    tp.write_bytes(data)
                    text = msodde.process_file(str(tp), msodde.FIELD_FILTER_DDE)
        except MemoryError:
            self.partly(f"msodde ran out of memory on {where}")
            return
        except Exception:
            return
        text = (text or "").strip()
        if text:
            self.em.emit(DDE, "high", where, f"DDE link: {text[:200]!r}", key="dde")

    def dde_text(self, data: bytes, where: str, *, xlm: bool = True) -> None:
        head = data[: 1 << 20]
        m = _DDE_RE.search(head) or _CSV_DDE_RE.search(head)
        if m:
            snippet = head[m.start() : m.start() + 120]
            self.em.emit(
                DDE,
                "high",
                f"{where}, offset 0x{m.start():x}",
                f"DDE formula {snippet!r}",
                key="ddetext",
            )
        x = _XLM_RE.search(head) if xlm else None
        if x:
            auto = b"auto_open" in head.lower()
            fn = x.group(0).decode("latin-1")
            self.em.emit(
                Macros,
                "high" if auto else "medium",
                f"{where}, offset 0x{x.start():x}",
                f"Excel 4 (XLM) macro function {fn!r} in a SYLK/CSV sheet",
                key="xlmtext",
            )

    # ---- OOXML / zip -------------------------------------------------------------------
    def zip(self, data: bytes, where: str, depth: int) -> None:
        zf = zipsafe.open_zip(data, self.budget, where)
        with zf:
            mems = list(zipsafe.members(zf, self.budget, where))
            names = {m.name for m in mems}
            if "[Content_Types].xml" in names:
                self.ooxml(zf, names, data, where, depth)
                return
            if depth == 0:
                self.out.kind = "zip"
            for m in mems:
                pwd = None
                if m.encrypted:
                    pwd = self._zip_password(zf, m.name)
                    if pwd is None:
                        self.out.encrypted = True
                        self.em.emit(
                            Encrypted,
                            "info",
                            f"{where}/{m.name}",
                            "zip member is encrypted; not analysed",
                            key=f"zenc{m.name}",
                        )
                        continue
                try:
                    inner = zipsafe.read_member(zf, m.name, self.budget, where, pwd=pwd)
                except InputError as exc:
                    self.malformed(f"{where}/{m.name}", exc)
                    continue
                sub = f"{where}/{m.name}"
                self.analyse(inner, sub, depth + 1)
                k = sniff(inner, m.name)
                if k in ("ole", "zip", "rtf", "xml"):
                    self.macros(inner, sub)
                    if not (
                        (k == "zip" and msodde_finds_nothing_in_zip(inner, self.budget.limits))
                        or (k == "ole" and msodde_finds_nothing_in_ole(inner))
                    ):
                        self.dde_file(sub, inner, Path(m.name).suffix.lower())

    def _zip_password(self, zf: object, name: str) -> bytes | None:
        for pw in self.content.archive_passwords:
            try:
                with zf.open(name, pwd=pw.encode()) as fh:  # type: ignore[attr-defined]
                    fh.read(1)
                return pw.encode()
            except (RuntimeError, ValueError, OSError, Exception):
                continue
        return None

    def ooxml(self, zf: object, names: set[str], data: bytes, where: str, depth: int) -> None:
        if depth == 0:
            self.out.kind = "ooxml"
        rels: list[ooxml.Relationship] = []
        for n in sorted(names):
            if n.endswith(".rels"):
                try:
                    rels += ooxml.parse_rels(self._member(zf, n, where), n, str(self.path))
                except InputError as exc:
                    self.malformed(f"{where}/{n}", exc)
        for r in rels:
            if r.external:
                sev: Severity = SUSPICIOUS_RELS.get(
                    r.type, "info" if r.type == "hyperlink" else "low"
                )
                self.em.emit(
                    ExternalReference,
                    sev,
                    f"{where}/{r.part}, {r.rid}",
                    f"external {r.type} relationship to {r.target[:200]!r}",
                    key=f"{r.part}{r.rid}",
                )
        done: set[str] = set()
        if "word/fontTable.xml" in names:
            frels = [r for r in rels if r.part == "word/_rels/fontTable.xml.rels"]
            try:
                refs = ooxml.font_refs(
                    self._member(zf, "word/fontTable.xml", where), frels, str(self.path)
                )
            except InputError as exc:
                self.malformed(f"{where}/word/fontTable.xml", exc)
                refs = []
            for ref in refs:
                loc = f"{where}/{ref.target or ref.rid}"
                if ref.target is None or ref.target not in names:
                    self.em.emit(
                        MalformedContainer,
                        "low",
                        f"{where}/word/fontTable.xml, {ref.kind} of {ref.font_name!r}",
                        f"embedded font relationship {ref.rid!r} points to no part",
                        key=f"fref{ref.rid}",
                    )
                    continue
                done.add(ref.target)
                raw = self._member(zf, ref.target, where)
                key = ooxml.guid_key(ref.key)
                if key is None:
                    self.em.emit(
                        MalformedContainer,
                        "medium",
                        f"{where}/word/fontTable.xml, {ref.kind} of {ref.font_name!r}",
                        f"w:fontKey {ref.key!r} is not a GUID",
                        key=f"fkey{ref.rid}",
                    )
                    self.font(raw, loc + " (obfuscated)", embedded=True)
                    continue
                clear = ooxml.deobfuscate(raw, key)
                if sniff_font(clear) is None:
                    self.em.emit(
                        MalformedContainer,
                        "medium",
                        loc,
                        f"de-obfuscated font {ref.font_name!r} is not a font (bad key or not a font)",
                        key=f"fnot{ref.rid}",
                    )
                    continue
                self.font(clear, loc, embedded=True)
        for n in sorted(names):
            low = n.lower()
            if n in done:
                continue
            if low.endswith(".odttf"):
                raw = self._member(zf, n, where)
                xkey = ooxml.guid_key(Path(n).stem)  # XPS: the GUID is the part name
                if sniff_font(raw) is None and xkey is not None:
                    raw = ooxml.deobfuscate(raw, xkey)
                self.font(raw, f"{where}/{n}", embedded=True)
            elif low.startswith(("ppt/fonts/", "word/fonts/")) or low.endswith(".fntdata"):
                self.font(self._member(zf, n, where), f"{where}/{n}", embedded=True)
            elif low.startswith("xl/macrosheets/"):
                wb = (
                    self._member(zf, "xl/workbook.xml", where)
                    if "xl/workbook.xml" in names
                    else b""
                )
                auto = b"auto_open" in wb.lower()
                self.em.emit(
                    Macros,
                    "high" if auto else "medium",
                    f"{where}/{n}",
                    f"Excel 4 (XLM) macro sheet{' with Auto_Open' if auto else ''}",
                    key="xlmsheet",
                )
            elif "/embeddings/" in low or ("/activex/" in low and low.endswith(".bin")):
                inner = self._member(zf, n, where)
                self.out.objects += 1
                k = sniff(inner, n)
                if k == "ole":
                    self.analyse(inner, f"{where}/{n}", depth + 1)
                    cls = _ole_class(inner)
                    self.em.emit(
                        EmbeddedObject,
                        "low",
                        f"{where}/{n}",
                        f"embedded object ({cls or k})",
                        key=n,
                    )
                elif k in ("zip", "rtf", "font"):
                    self.em.emit(EmbeddedObject, "low", f"{where}/{n}", f"embedded {k} part", key=n)
                    self.analyse(inner, f"{where}/{n}", depth + 1)
                else:
                    if find_pe(inner[: 1 << 20], limit=1):
                        self.em.emit(
                            EmbeddedPE,
                            "high",
                            f"{where}/{n}",
                            "embedded part is a Windows PE executable",
                            key=n,
                        )
                    self.save(f"{where}/{n}", inner)
        if depth == 0:
            self.macros(data, where)
            if not msodde_finds_nothing_in_zip(data, self.budget.limits):
                self.dde_file(where)

    def _member(self, zf: object, name: str, where: str) -> bytes:
        return zipsafe.read_member(zf, name, self.budget, where)  # type: ignore[arg-type]

    # ---- RTF / flat XML ----------------------------------------------------------------
    def rtf(self, data: bytes, where: str, depth: int) -> None:
        if depth == 0:
            self.out.kind = "rtf"
        for k, f in enumerate(
            rtf.embedded_fonts(data, limit_bytes=self.budget.limits.max_member_bytes)
        ):
            self.font(f.data, f"{where}, \\fontemb group {k} at 0x{f.offset:x}", embedded=True)
        try:
            parser = rtf_parser(data)
            parser.parse()
        except Exception as exc:
            self.em.emit(
                MalformedContainer,
                "low",
                where,
                f"rtfobj could not parse the RTF ({type(exc).__name__})",
                key="rtfobj",
            )
            return
        for obj in parser.objects[: self.budget.limits.max_objects]:
            self.out.objects += 1
            loc = f"{where}, \\objdata at 0x{obj.start:x}"
            if obj.is_package:
                fname = _text(obj.filename) or "?"
                payload = bytes(obj.olepkgdata or b"")
                ext = Path(fname.replace("\\", "/")).suffix.lower()
                pe = bool(find_pe(payload[:4096], limit=1))
                sev: Severity = "high" if ext in EXEC_EXT or pe else "low"
                self.em.emit(
                    EmbeddedObject,
                    sev,
                    loc,
                    f"OLE Package embeds {fname!r} ({len(payload)} bytes)",
                    key=f"rtfpkg{obj.start}",
                )
                self.save(f"{where}/{Path(fname.replace(chr(92), '/')).name}", payload)
            elif obj.is_ole:
                cls = _text(obj.class_name)
                sev = "high" if cls.lower().startswith("equation") else "low"
                self.em.emit(
                    EmbeddedObject,
                    sev,
                    loc,
                    f"embedded OLE object class {cls!r} ({obj.oledata_size or 0} bytes)",
                    key=f"rtfole{obj.start}",
                )
                if obj.oledata:
                    inner = bytes(obj.oledata)
                    if sniff(inner, loc) == "ole":
                        self.analyse(inner, loc, depth + 1)
            else:
                self.em.emit(
                    EmbeddedObject,
                    "low",
                    loc,
                    "\\objdata that is not an OLE object",
                    key=f"rtfraw{obj.start}",
                )
        if depth == 0:
            self._rtf_dde(parser.fields, where)

    def _rtf_dde(self, fields: list[bytes], where: str) -> None:
        """DDE fields as msodde reports them for RTF (its FIELD_DDE_REGEX over the \\fldinst
        texts), from the single parse that also found the objects."""
        from oletools import msodde

        text = "\n".join(
            t for t in (f.decode("latin-1") for f in fields) if msodde.FIELD_DDE_REGEX.match(t)
        ).strip()
        if text:
            self.em.emit(DDE, "high", where, f"DDE link: {text[:200]!r}", key="dde")

    def flat_xml(self, data: bytes, where: str) -> None:
        self.out.kind = "office-xml"
        if b"<w:binData" in data or b"editdata.mso" in data:
            self.em.emit(
                EmbeddedObject,
                "low",
                where,
                "Word 2003 XML with binary data (w:binData / editdata.mso)",
                key="bindata",
            )
        self.dde_file(where)
        self.macros(data, where)


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bytes):
        return v.decode("latin-1", "replace")
    return str(v)


def _compobj_class(raw: bytes) -> str:
    m = re.search(rb"[\x20-\x7e]{4,64}", raw[28:200])
    return m.group(0).decode("ascii") if m else ""


def _ole_class(data: bytes) -> str:
    try:
        import olefile

        with olefile.OleFileIO(io.BytesIO(data)) as of:
            if of.exists("\x01CompObj"):
                return _compobj_class(bytes(of.openstream("\x01CompObj").read(4096)))
    except Exception:
        return ""
    return ""


def sniff(data: bytes, name: str = "") -> str:
    """'ole', 'zip', 'rtf', 'font', 'xml', 'sylk', 'csv' or 'unknown' (by content; the name only
    for csv and for a SYLK file that does not start with its ID record)."""
    head = data[:16]
    if head.startswith(olemod.OLE_MAGIC):
        return "ole"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"{\\rt"):
        return "rtf"
    if sniff_font(data) is not None:
        return "font"
    if name.lower().endswith((".pfa", ".pfb")) or head.startswith((b"%!PS-AdobeFont", b"\x80\x01")):
        return "font"
    stripped = data[:512].lstrip(b"\xef\xbb\xbf \r\n\t")
    if stripped.startswith(b"<?xml") and (
        b"urn:schemas-microsoft-com:office" in data[:4096]
        or b"schemas.microsoft.com/office" in data[:8192]
    ):
        return "xml"
    if head.startswith(b"ID;P") or name.lower().endswith(".slk"):
        return "sylk"  # SYLK: Excel opens it whatever its extension (often .xls)
    if name.lower().endswith(".csv"):
        return "csv"
    _ = parse_eot
    return "unknown"
