"""What every font check shares: the font being analysed, where it is, its findings, and
the helpers that turn parser issues into findings.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from duqhunt.detectors.doc.catalogue import DocDetector, Emitter
from duqhunt.errors import InputError
from duqhunt.model.finding import Severity
from duqhunt.sources.office.limits import Budget, DocContent
from duqhunt.sources.office.otbase import StructIssue, WorkLimit


@dataclass(slots=True)
class FontResult:
    """What the analysis learned about one font (for the summary and --extract)."""

    decoded: bytes | None = None
    kind: str = ""
    names: list[str] = field(default_factory=list)
    note: str = ""


@dataclass(slots=True)
class FontCtx:
    data: bytes
    em: Emitter
    loc: str
    content: DocContent
    budget: Budget
    result: FontResult

    def at(self, tag: str, off: int | None = None, extra: str = "") -> str:
        s = f"{self.loc}, table {tag}"
        if extra:
            s += f", {extra}"
        if off is not None:
            s += f", offset 0x{off:x}"
        return s


def struct_issues(
    ctx: FontCtx, det: type[DocDetector], issues: list[StructIssue], cap: int = 8
) -> None:
    """Structural faults of one table walk: the first ``cap`` each get a finding."""
    for iss in issues[:cap]:
        ctx.em.emit(
            det,
            iss.severity,
            ctx.at(iss.table, iss.offset),
            iss.message,
            key=f"{iss.table}:{iss.check}:{iss.offset}",
            details={"check": iss.check},
        )
    if len(issues) > cap:
        worst: Severity = "medium" if any(i.severity != "low" for i in issues[cap:]) else "low"
        ctx.em.emit(
            det,
            worst,
            ctx.at(issues[0].table),
            f"{len(issues) - cap} more structural faults in table {issues[0].table!r}",
            key=f"{issues[0].table}:more",
        )


def walk_table(
    ctx: FontCtx, det: type[DocDetector], tag: str, fn: Callable[[], list[StructIssue]]
) -> None:
    """Run one table walker; a walk stopped by the work or time limit is a finding too."""
    try:
        struct_issues(ctx, det, fn())
    except InputError as exc:
        not_checked(ctx, det, tag, exc)


def not_checked(ctx: FontCtx, det: type[DocDetector], tag: str, exc: InputError) -> None:
    """A walk stopped by the step limit is medium (no benign table needs that much work); one
    stopped by the per-file deadline is low (a slow machine or a very large font)."""
    ctx.em.emit(
        det,
        "medium" if isinstance(exc, WorkLimit) else "low",
        ctx.at(tag),
        f"table {tag} not fully checked: {exc.reason}",
        key=f"{tag}:limit",
    )


def u16(b: bytes, o: int) -> int:
    return int(struct.unpack_from(">H", b, o)[0])
