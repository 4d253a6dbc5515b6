"""The text-based Office formats: RTF (fonts in \\fontemb groups, \\objdata objects and OLE
Packages through rtfobj, DDE fields from the same parse) and Word 2003 XML (binary data parts,
DDE fields and macros through oletools).
"""

from __future__ import annotations

from pathlib import Path

from duqhunt.detectors.doc.bytescan import find_pe
from duqhunt.detectors.doc.catalogue import DDE, EmbeddedObject, MalformedContainer
from duqhunt.detectors.doc.parsergate import rtf_parser
from duqhunt.detectors.doc.walkcore import EXEC_EXT, _text, sniff
from duqhunt.detectors.doc.walkmacros import MacroWalk
from duqhunt.model.finding import Severity
from duqhunt.sources.office import rtf


class TextWalk(MacroWalk):
    """RTF and Word 2003 XML."""

    __slots__ = ()

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
