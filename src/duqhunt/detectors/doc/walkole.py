"""The OLE2 (compound file) walk: .doc/.dot/.xls/.ppt/.msg and OLE objects nested in other
containers. Encryption, the fonts a Word document embeds (FIB -> SttbTtmbd -> EOT, carving as
the fallback) and those of a PowerPoint file, OLE Package payloads, embedded objects and
nested packages (walked again through ``analyse``).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from duqhunt.detectors.doc.bytescan import find_pe
from duqhunt.detectors.doc.catalogue import (
    EmbeddedObject,
    EmbeddedPE,
    Encrypted,
    MalformedContainer,
)
from duqhunt.detectors.doc.parsergate import msodde_finds_nothing_in_ole
from duqhunt.detectors.doc.walkcore import EXEC_EXT, _compobj_class, _ole_class, _text
from duqhunt.detectors.doc.walkmacros import MacroWalk
from duqhunt.errors import InputError
from duqhunt.model.finding import Severity
from duqhunt.sources.office import ole as olemod


class OleWalk(MacroWalk):
    """OLE2 compound files."""

    __slots__ = ()

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
