"""Macros and DDE fields, through oletools as libraries (olevba for VBA and XLM macros, msodde
for DDE fields), and the keyword scan of SYLK and CSV sheets that oletools do not read. Every
container family calls these on the file or on a nested part; what oletools may be handed is
decided in parsergate.py.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from duqhunt.detectors.doc.catalogue import DDE, Macros
from duqhunt.detectors.doc.walkcore import WalkCore
from duqhunt.model.finding import Severity

_DDE_RE = re.compile(rb"DDEAUTO|\bDDE\b", re.IGNORECASE)
_CSV_DDE_RE = re.compile(rb"(?m)^[=+\-@][^|\n]{0,64}\|\s*'[^'\n]{0,256}'![A-Za-z]*\d*")
_XLM_RE = re.compile(rb"\b(EXEC|CALL|REGISTER|RUN|FOPEN|FWRITE|URLDownloadToFile)\(", re.IGNORECASE)


class MacroWalk(WalkCore):
    """Macros and DDE: the oletools checks every container family calls."""

    __slots__ = ()

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
