"""What every container walk shares: the walker's state, its limits, and the checks more than one
container family reaches (fonts in any part, a part left unanalysed, a malformed part).

A document is walked by one :class:`~duqhunt.detectors.doc.containers.Walker`, which dispatches
each container it meets (the file itself, then every part nested in it) to the walk of its
family: walkole.py (OLE2 compound files), walkzip.py (zip archives, OOXML and XPS), walktext.py
(RTF and Word 2003 XML) and walkmacros.py (macros and DDE fields through oletools, which the
others call). Each family is a class over :class:`WalkCore`; Walker joins them, so a part found
inside one container (an OLE object in a zip, a zip in an OLE Package) goes back through
``analyse`` with the same state, limits and emitter.
"""

from __future__ import annotations

import io
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from duqhunt.detectors.doc.catalogue import EmbeddedFont, Emitter, MalformedContainer
from duqhunt.detectors.doc.fontcheck import analyse_font
from duqhunt.detectors.doc.parsergate import zip_over_limits
from duqhunt.errors import InputError
from duqhunt.sources.office import ole as olemod
from duqhunt.sources.office.eot import mtx_locator, parse_eot
from duqhunt.sources.office.fonts import sniff_font
from duqhunt.sources.office.limits import Budget, DocContent

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
class WalkCore(ABC):
    """One file's walk: where it is, what it found, and the limits every part is read under."""

    path: Path
    em: Emitter
    content: DocContent
    budget: Budget
    extract: Extract | None
    out: Outcome = field(default_factory=Outcome)
    top: bytes = b""  # the file's bytes: what msodde reads when it is given the path

    @abstractmethod
    def analyse(self, data: bytes, where: str, depth: int = 0) -> None:
        """Walk one container (the file at depth 0, a nested part deeper): containers.Walker."""

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
