"""Font analysis: every check on an sfnt/TTC/WOFF/WOFF2/EOT font, each a finding with a locator.

Entry point: ``analyse_font`` (bytes in, findings into an ``Emitter``). Parsing never trusts an
offset; bytecode is decoded statically (sources/office/ttinstr.py), never executed.

The checks live beside it: fontctx (shared state), fonttables (tables, bytecode, glyphs,
layout, CFF), fontnames (name, cmap, Duqu font names).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from duqhunt.detectors.doc.bytescan import entropy, find_pe, shellcode_hits
from duqhunt.detectors.doc.catalogue import (
    EmbeddedPE,
    Emitter,
    FontChecksum,
    FontDirectory,
    FontForeignBytes,
    FontOutlines,
    FontShellcode,
    MalformedContainer,
)
from duqhunt.detectors.doc.fontctx import FontCtx, FontResult
from duqhunt.detectors.doc.fontnames import duqu_name, duqu_raw
from duqhunt.detectors.doc.fonttables import check_tables
from duqhunt.errors import InputError
from duqhunt.model.finding import Severity
from duqhunt.sources.office import eot as eotmod
from duqhunt.sources.office.fonts import (
    Directory,
    TableRecord,
    checksum,
    read_directory,
    sniff_font,
    ttc_offsets,
    woff2_layout,
    woff2_to_sfnt,
    woff_layout,
    woff_to_sfnt,
)
from duqhunt.sources.office.limits import Budget, DocContent
from duqhunt.sources.office.otbase import StructIssue

__all__ = ["FontResult", "analyse_font"]


BITMAP_TABLES = frozenset({"CBDT", "EBDT", "sbix", "SVG ", "bdat", "CBLC", "EBLC", "bloc"})


def analyse_font(
    data: bytes, em: Emitter, loc: str, content: DocContent, budget: Budget
) -> FontResult:
    """Analyse a font of any supported container; structural failures become findings."""
    res = FontResult(kind=sniff_font(data) or "unknown")
    ctx = FontCtx(data, em, loc, content, budget, res)
    try:
        if res.kind == "woff":
            _container(ctx, woff_layout(data))
            sfnt = woff_to_sfnt(data, budget, loc)
            res.decoded = sfnt
            _analyse_sfnt(
                FontCtx(sfnt, em, loc + " (WOFF decoded)", content, budget, res), 0, single=True
            )
        elif res.kind == "woff2":
            _container(ctx, woff2_layout(data))
            sfnt = woff2_to_sfnt(data, budget, loc)
            res.decoded = sfnt
            _analyse_sfnt(
                FontCtx(sfnt, em, loc + " (WOFF2 decoded)", content, budget, res), 0, single=True
            )
        elif res.kind == "eot":
            _analyse_eot(ctx)
        elif res.kind == "ttc":
            offs = ttc_offsets(data, budget.path, 256)
            for i, off in enumerate(offs):
                budget.check_time(loc)
                _analyse_sfnt(
                    FontCtx(data, em, f"{loc}, font {i}", content, budget, res), off, single=False
                )
            res.decoded = data
        elif res.kind == "sfnt":
            res.decoded = data
            _analyse_sfnt(ctx, 0, single=True)
        elif data[:2] in (b"%!", b"\x80\x01"):
            res.kind = "type1"
            _type1(ctx)
        else:
            em.emit(
                MalformedContainer,
                "medium",
                loc,
                "data declared as a font is not a TrueType/OpenType/WOFF/EOT font",
            )
            _scan_bytes(ctx, data, "raw", 0, nops=True)
    except InputError as exc:
        where = f" at byte 0x{exc.offset:x}" if exc.offset is not None else ""
        em.emit(
            MalformedContainer,
            "medium",
            loc,
            f"font not parsed: {exc.reason}{where}",
            key="font-parse",
        )
        _scan_bytes(ctx, data, "raw", 0, nops=True)
    duqu_raw(ctx)
    return res


def _container(ctx: FontCtx, issues: list[StructIssue]) -> None:
    """WOFF/WOFF2 header and block-layout faults (offsets are file offsets)."""
    for iss in issues:
        ctx.em.emit(
            FontDirectory,
            iss.severity,
            f"{ctx.loc}, {iss.table} container, offset 0x{iss.offset:x}",
            iss.message,
            key=f"{iss.table}:{iss.check}",
        )


def _type1(ctx: FontCtx) -> None:
    """Type 1 (PFA/PFB): structure of the PFB segments and Multiple Master markers."""
    data = ctx.data
    if data[:2] == b"\x80\x01":
        p = 0
        while p + 2 <= len(data) and data[p] == 0x80 and data[p + 1] != 3:
            if p + 6 > len(data):
                ctx.em.emit(
                    FontOutlines,
                    "medium",
                    f"{ctx.loc}, offset 0x{p:x}",
                    "PFB segment header truncated",
                    key="pfb",
                )
                break
            ln = int.from_bytes(data[p + 2 : p + 6], "little")
            if p + 6 + ln > len(data):
                ctx.em.emit(
                    FontOutlines,
                    "medium",
                    f"{ctx.loc}, offset 0x{p:x}",
                    f"PFB segment of {ln} bytes runs past the end",
                    key="pfb",
                )
                break
            p += 6 + ln
    for marker in ctx.content.type1_mm_markers:
        o = data.find(marker.encode())
        if o >= 0:
            ctx.em.emit(
                FontOutlines,
                "medium",
                f"{ctx.loc}, offset 0x{o:x}",
                f"Type 1 Multiple Master marker {marker!r} (legacy font-driver attack surface)",
                key="t1mm",
            )
            break
    _scan_bytes(ctx, data, "Type 1 data", 0, nops=True)


def _analyse_eot(ctx: FontCtx) -> None:
    eot = eotmod.parse_eot(ctx.data, ctx.budget.path, ctx.loc, budget=ctx.budget)
    ctx.result.names = [n for n in (eot.family_name, eot.full_name) if n]
    for n in (eot.family_name, eot.full_name, eot.style_name):
        duqu_name(ctx, n, "EOT header", "family-or-full-name")
    # parse_eot decodes MTX (or raises InputError): font_data is a plain font here
    ctx.result.decoded = eot.font_data
    sub = FontCtx(
        eot.font_data,
        ctx.em,
        ctx.loc + (" (EOT, XOR 0x50 undone)" if eot.xored else " (EOT font data)"),
        ctx.content,
        ctx.budget,
        ctx.result,
    )
    kind = sniff_font(eot.font_data)
    if kind == "sfnt":
        _analyse_sfnt(sub, 0, single=True)
    else:
        ctx.em.emit(
            MalformedContainer,
            "medium",
            f"{ctx.loc}, EOT font data, offset 0x{eot.font_offset:x}",
            "EOT font data is not an sfnt font",
        )
        _scan_bytes(sub, eot.font_data, "EOT data", 0, nops=True)


def _analyse_sfnt(ctx: FontCtx, base: int, *, single: bool) -> None:
    em, data = ctx.em, ctx.data
    path = ctx.budget.path
    d = read_directory(data, base, path)
    if d.flavor == "unknown":
        em.emit(
            FontDirectory,
            "medium",
            f"{ctx.loc}, offset 0x{base:x}",
            f"unknown sfnt version {data[base : base + 4].hex()}",
        )
    if d.num_tables == 0:
        em.emit(FontDirectory, "medium", f"{ctx.loc}, table directory", "font declares no tables")
        return
    if d.num_tables > 200:
        em.emit(
            FontDirectory,
            "medium",
            f"{ctx.loc}, table directory",
            f"font declares {d.num_tables} tables",
        )
    es = max(d.num_tables.bit_length() - 1, 0)
    if d.search_range != (1 << es) * 16 or d.entry_selector != es:
        em.emit(
            FontDirectory,
            "info",
            f"{ctx.loc}, table directory",
            "searchRange/entrySelector/rangeShift do not match numTables",
            key="search",
        )
    valid: list[TableRecord] = []
    seen: set[str] = set()
    prev = ""
    for r in d.records:
        rloc = f"{ctx.loc}, table directory, record {r.index} ({r.tag!r})"
        if not all(0x20 <= ord(c) <= 0x7E for c in r.tag):
            em.emit(
                FontDirectory,
                "medium",
                rloc,
                f"table tag {r.tag.encode('latin-1').hex()} is not printable ASCII",
                key=f"tag{r.index}",
            )
        if r.tag in seen:
            em.emit(
                FontDirectory, "medium", rloc, f"duplicate table tag {r.tag!r}", key=f"dup{r.tag}"
            )
            continue
        seen.add(r.tag)
        if r.tag < prev:
            em.emit(
                FontDirectory,
                "low",
                rloc,
                f"table tags not sorted ({r.tag!r} after {prev!r})",
                key="unsorted",
            )
        prev = r.tag
        if r.offset + r.length > len(data) or r.offset > len(data):
            em.emit(
                FontDirectory,
                "medium",
                rloc,
                f"table {r.tag!r} at 0x{r.offset:x}+{r.length} runs past the end of the font (0x{len(data):x})",
                key=f"oob{r.tag}",
            )
            continue
        if r.length and r.offset < d.end and r.offset + r.length > d.base:
            em.emit(
                FontDirectory,
                "medium",
                rloc,
                f"table {r.tag!r} at 0x{r.offset:x} overlaps the sfnt header/directory",
                key=f"hdr{r.tag}",
            )
            continue
        if r.offset % 4:
            em.emit(
                FontDirectory,
                "low",
                rloc,
                f"table {r.tag!r} at 0x{r.offset:x} is not 4-byte aligned",
                key="align",
            )
        valid.append(r)
    by_off = sorted(valid, key=lambda r: (r.offset, r.length))
    for a, b in itertools.pairwise(by_off):
        if b.offset < a.offset + a.length:
            sev: Severity = "low" if (a.offset, a.length) == (b.offset, b.length) else "medium"
            em.emit(
                FontDirectory,
                sev,
                f"{ctx.loc}, table {b.tag}, offset 0x{b.offset:x}",
                f"table {b.tag!r} overlaps table {a.tag!r} (0x{a.offset:x}+{a.length})",
                key=f"ovl{a.tag}{b.tag}",
            )
    tables = {r.tag: data[r.offset : r.offset + r.length] for r in valid}
    # Checksums (info only)
    bad = []
    for r in valid:
        raw = tables[r.tag]
        if r.tag == "head" and len(raw) >= 12:
            raw = raw[:8] + b"\0\0\0\0" + raw[12:]
        if checksum(raw) != r.checksum:
            bad.append(r.tag)
    if bad:
        em.emit(
            FontChecksum,
            "info",
            f"{ctx.loc}, table directory",
            f"checksum mismatch in table(s) {', '.join(bad)}",
            key="cs",
            confidence=0.5,
        )
    if single:
        _coverage(ctx, d, valid)
    check_tables(ctx, d, tables, {r.tag: r for r in valid})
    for tag, raw in tables.items():
        ctx.budget.check_time(ctx.loc)
        off = next(r.offset for r in valid if r.tag == tag)
        _scan_bytes(ctx, raw, tag, off, nops=tag not in BITMAP_TABLES, table=True)


def _coverage(ctx: FontCtx, d: Directory, valid: list[TableRecord]) -> None:
    data, tol = ctx.data, ctx.budget.limits.gap_tolerance
    spans = sorted((r.offset, r.offset + r.length) for r in valid)
    pos = d.end
    regions: list[tuple[int, int]] = []
    for s, e in spans:
        if s > pos + tol:
            regions.append((pos, s))
        pos = max(pos, e)
    trailing = len(data) - pos
    if trailing > tol:
        regions.append((pos, len(data)))
    for s, e in regions:
        blob = data[s:e]
        kind = "trailing data" if e == len(data) else "unreferenced gap"
        nz = len(blob) - blob.count(0)
        if nz == 0:
            if len(blob) > 4096:
                ctx.em.emit(
                    FontForeignBytes,
                    "low",
                    f"{ctx.loc}, offset 0x{s:x}",
                    f"{kind} of {len(blob)} zero bytes",
                    key=f"gap{s}",
                )
            continue
        ent = entropy(blob)
        sev: Severity = "low"
        if nz > 1024 or (len(blob) >= 256 and ent >= ctx.budget.limits.entropy_high):
            sev = "medium"
        ctx.em.emit(
            FontForeignBytes,
            sev,
            f"{ctx.loc}, offset 0x{s:x}",
            f"{kind} of {len(blob)} bytes ({nz} non-zero, entropy {ent:.2f} bits/byte) belongs to no table",
            key=f"gap{s}",
            details={"bytes": len(blob), "entropy": round(ent, 2)},
        )
        _scan_bytes(ctx, blob, kind, s, nops=True)


def _scan_bytes(
    ctx: FontCtx, blob: bytes, tag: str, base: int, *, nops: bool, table: bool = False
) -> None:
    hits = shellcode_hits(blob, ctx.content, nops=nops)
    if hits:
        kinds = sorted({h.kind for h in hits})
        sev: Severity = "high" if len(kinds) >= 2 or len(hits) >= 3 else "medium"
        h = hits[0]
        where = (
            ctx.at(tag, h.offset) if table else f"{ctx.loc}, {tag}, offset 0x{base + h.offset:x}"
        )
        ctx.em.emit(
            FontShellcode,
            sev,
            where,
            f"{len(hits)} shellcode trait(s): "
            + "; ".join(f"{x.name} at 0x{x.offset:x}" for x in hits[:5]),
            key=f"sc{tag}",
            details={"traits": ",".join(kinds)},
        )
    for o in find_pe(blob, limit=4):
        where = ctx.at(tag, o) if table else f"{ctx.loc}, {tag}, offset 0x{base + o:x}"
        ctx.em.emit(
            EmbeddedPE,
            "high",
            where,
            "Windows PE executable (MZ/PE header) embedded in font data",
            key=f"pe{tag}{o}",
            confidence=0.9,
        )


FontAnalyser = Callable[[bytes, Emitter, str, DocContent, Budget], FontResult]
