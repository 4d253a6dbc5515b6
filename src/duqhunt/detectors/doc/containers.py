"""Per-file document analysis: sniff the container, walk it within limits, run every check.

Formats: OLE2 (.doc/.dot/.xls/.ppt/.msg...), OOXML (.docx/.docm/.xlsx/.pptx...), RTF, fonts
(sfnt/TTC/WOFF/WOFF2/EOT), zip archives, and Word 2003 XML / CSV for DDE. oletools/olefile are
used as libraries (olevba for macros, msodde for DDE, oleobj/rtfobj for objects); what they
are handed, and when they need not run, is decided in parsergate.py.

:class:`Walker` is the entry: it sniffs each container (the file, then every nested part) and
dispatches it to its family's walk. The walks live one family to a module over the shared
state of walkcore.py: walkole.py, walkzip.py, walktext.py, and walkmacros.py (oletools' macro
and DDE checks, which the others call).
"""

from __future__ import annotations

import logging

from duqhunt.detectors.doc.catalogue import MalformedContainer
from duqhunt.detectors.doc.walkcore import EXEC_EXT, Extract, Outcome, sniff
from duqhunt.detectors.doc.walkole import OleWalk
from duqhunt.detectors.doc.walktext import TextWalk
from duqhunt.detectors.doc.walkzip import ZipWalk
from duqhunt.errors import InputError

__all__ = ["EXEC_EXT", "Extract", "Outcome", "Walker", "sniff"]

log = logging.getLogger(__name__)


class Walker(OleWalk, ZipWalk, TextWalk):
    """One file's walk: every container family's, joined over one state (walkcore.WalkCore)."""

    __slots__ = ()

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
