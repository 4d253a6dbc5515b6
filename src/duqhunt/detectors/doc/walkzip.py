"""The zip walk: plain archives (members walked again through ``analyse``, encrypted members
tried with the configured archive passwords), OOXML packages (external relationships, the
obfuscated fonts of word/fontTable.xml, font parts, XLM macro sheets, embedded objects and
ActiveX parts) and XPS documents (obfuscated .odttf fonts named by their GUID).
"""

from __future__ import annotations

from pathlib import Path

from duqhunt.detectors.doc.bytescan import find_pe
from duqhunt.detectors.doc.catalogue import (
    EmbeddedObject,
    EmbeddedPE,
    Encrypted,
    ExternalReference,
    Macros,
    MalformedContainer,
)
from duqhunt.detectors.doc.parsergate import (
    msodde_finds_nothing_in_ole,
    msodde_finds_nothing_in_zip,
)
from duqhunt.detectors.doc.walkcore import _ole_class, sniff
from duqhunt.detectors.doc.walkmacros import MacroWalk
from duqhunt.errors import InputError
from duqhunt.model.finding import Severity
from duqhunt.sources.office import ooxml, zipsafe
from duqhunt.sources.office.fonts import sniff_font

SUSPICIOUS_RELS: dict[str, Severity] = {
    "attachedTemplate": "high",
    "oleObject": "medium",
    "frame": "medium",
    "subDocument": "medium",
}


class ZipWalk(MacroWalk):
    """Zip archives, OOXML and XPS."""

    __slots__ = ()

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
