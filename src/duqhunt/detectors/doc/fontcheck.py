"""Font analysis: every check on an sfnt/TTC/WOFF/WOFF2/EOT font, each a finding with a locator.

Entry point: ``analyse_font`` (bytes in, findings into an ``Emitter``). Parsing never trusts an
offset; bytecode is decoded statically (sources/office/ttinstr.py), never executed.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from duqhunt.detectors.doc.bytescan import entropy, find_pe, shellcode_hits
from duqhunt.detectors.doc.catalogue import (
    DocDetector,
    DuquFontTraits,
    EmbeddedPE,
    Emitter,
    FontBytecode,
    FontChecksum,
    FontDirectory,
    FontForeignBytes,
    FontOutlines,
    FontShellcode,
    FontTables,
    MalformedContainer,
)
from duqhunt.errors import InputError
from duqhunt.model.finding import Severity
from duqhunt.sources.office import eot as eotmod
from duqhunt.sources.office.cff import check_cff
from duqhunt.sources.office.colr import check_colr
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
from duqhunt.sources.office.otbase import StructIssue, WorkLimit
from duqhunt.sources.office.otlayout import GdefInfo, check_gdef, check_layout
from duqhunt.sources.office.ttinstr import (
    BytecodeIssue,
    FontCodeState,
    scan_program,
    undefined_calls,
)

# How far glyphs may go past a maxp maximum and still be info, not low: fonts from many tools
# leave these maxima a little short (or 0). A larger overshoot is what an overflow needs.
MAXP_SLACK = {"max-points": 16, "max-contours": 4, "max-instr": 64}
BITMAP_TABLES = frozenset({"CBDT", "EBDT", "sbix", "SVG ", "bdat", "CBLC", "EBLC", "bloc"})
KNOWN_TAGS_MIN_LEN = {"head": 54, "hhea": 36, "post": 32, "maxp": 6}
OS2_MIN = {0: 78, 1: 86, 2: 96, 3: 96, 4: 96, 5: 100}


@dataclass(slots=True)
class FontResult:
    """What the analysis learned about one font (for the summary and --extract)."""

    decoded: bytes | None = None
    kind: str = ""
    names: list[str] = field(default_factory=list)
    note: str = ""


@dataclass(slots=True)
class _Ctx:
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


def analyse_font(
    data: bytes, em: Emitter, loc: str, content: DocContent, budget: Budget
) -> FontResult:
    """Analyse a font of any supported container; structural failures become findings."""
    res = FontResult(kind=sniff_font(data) or "unknown")
    ctx = _Ctx(data, em, loc, content, budget, res)
    try:
        if res.kind == "woff":
            _container(ctx, woff_layout(data))
            sfnt = woff_to_sfnt(data, budget, loc)
            res.decoded = sfnt
            _analyse_sfnt(
                _Ctx(sfnt, em, loc + " (WOFF decoded)", content, budget, res), 0, single=True
            )
        elif res.kind == "woff2":
            _container(ctx, woff2_layout(data))
            sfnt = woff2_to_sfnt(data, budget, loc)
            res.decoded = sfnt
            _analyse_sfnt(
                _Ctx(sfnt, em, loc + " (WOFF2 decoded)", content, budget, res), 0, single=True
            )
        elif res.kind == "eot":
            _analyse_eot(ctx)
        elif res.kind == "ttc":
            offs = ttc_offsets(data, budget.path, 256)
            for i, off in enumerate(offs):
                budget.check_time(loc)
                _analyse_sfnt(
                    _Ctx(data, em, f"{loc}, font {i}", content, budget, res), off, single=False
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
    _duqu_raw(ctx)
    return res


def _container(ctx: _Ctx, issues: list[StructIssue]) -> None:
    """WOFF/WOFF2 header and block-layout faults (offsets are file offsets)."""
    for iss in issues:
        ctx.em.emit(
            FontDirectory,
            iss.severity,
            f"{ctx.loc}, {iss.table} container, offset 0x{iss.offset:x}",
            iss.message,
            key=f"{iss.table}:{iss.check}",
        )


def _struct(ctx: _Ctx, det: type[DocDetector], issues: list[StructIssue], cap: int = 8) -> None:
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


def _walk_table(
    ctx: _Ctx, det: type[DocDetector], tag: str, fn: Callable[[], list[StructIssue]]
) -> None:
    """Run one table walker; a walk stopped by the work or time limit is a finding too."""
    try:
        _struct(ctx, det, fn())
    except InputError as exc:
        _not_checked(ctx, det, tag, exc)


def _not_checked(ctx: _Ctx, det: type[DocDetector], tag: str, exc: InputError) -> None:
    """A walk stopped by the step limit is medium (no benign table needs that much work); one
    stopped by the per-file deadline is low (a slow machine or a very large font)."""
    ctx.em.emit(
        det,
        "medium" if isinstance(exc, WorkLimit) else "low",
        ctx.at(tag),
        f"table {tag} not fully checked: {exc.reason}",
        key=f"{tag}:limit",
    )


def _layout(ctx: _Ctx, t: dict[str, bytes], num_glyphs: int | None) -> None:
    """GDEF, GSUB, GPOS (otlayout) and COLR (colr) structure."""
    ng = num_glyphs if num_glyphs is not None else 0xFFFF
    where = ctx.loc
    gdef = GdefInfo()
    if "GDEF" in t:
        try:
            issues, gdef = check_gdef(t["GDEF"], ng, ctx.budget, where)
            _struct(ctx, FontTables, issues)
        except InputError as exc:
            _not_checked(ctx, FontTables, "GDEF", exc)
    for tag in ("GSUB", "GPOS"):
        if tag in t:
            walk = functools.partial(check_layout, tag, t[tag], ng, gdef, ctx.budget, where)
            _walk_table(ctx, FontTables, tag, walk)
    if "COLR" in t:
        walk_colr = functools.partial(check_colr, t["COLR"], ng, ctx.budget, where)
        _walk_table(ctx, FontOutlines, "COLR", walk_colr)


def _type1(ctx: _Ctx) -> None:
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


def _analyse_eot(ctx: _Ctx) -> None:
    eot = eotmod.parse_eot(ctx.data, ctx.budget.path, ctx.loc, budget=ctx.budget)
    ctx.result.names = [n for n in (eot.family_name, eot.full_name) if n]
    for n in (eot.family_name, eot.full_name, eot.style_name):
        _duqu_name(ctx, n, "EOT header", "family-or-full-name")
    # parse_eot decodes MTX (or raises InputError): font_data is a plain font here
    ctx.result.decoded = eot.font_data
    sub = _Ctx(
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


def _analyse_sfnt(ctx: _Ctx, base: int, *, single: bool) -> None:
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
    _tables(ctx, d, tables, {r.tag: r for r in valid})
    for tag, raw in tables.items():
        ctx.budget.check_time(ctx.loc)
        off = next(r.offset for r in valid if r.tag == tag)
        _scan_bytes(ctx, raw, tag, off, nops=tag not in BITMAP_TABLES, table=True)


def _coverage(ctx: _Ctx, d: Directory, valid: list[TableRecord]) -> None:
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
    ctx: _Ctx, blob: bytes, tag: str, base: int, *, nops: bool, table: bool = False
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


def _u16(b: bytes, o: int) -> int:
    return int(struct.unpack_from(">H", b, o)[0])


def _tables(ctx: _Ctx, d: Directory, t: dict[str, bytes], recs: dict[str, TableRecord]) -> None:
    em = ctx.em

    def bad(
        tag: str, summary: str, sev: Severity = "medium", off: int | None = None, key: str = ""
    ) -> None:
        em.emit(FontTables, sev, ctx.at(tag, off), summary, key=key or f"{tag}:{summary[:40]}")

    for tag, mn in KNOWN_TAGS_MIN_LEN.items():
        if tag in t and len(t[tag]) < mn:
            bad(tag, f"table {tag} is {len(t[tag])} bytes, shorter than its {mn}-byte minimum")
    is_tt = "glyf" in t or "loca" in t
    for req in ("head", "maxp"):
        if (
            req not in t
            and "CFF " not in t
            and "CFF2" not in t
            and not ("EBDT" in t or "CBDT" in t)
        ):
            bad(req, f"required table {req} is missing", "medium" if is_tt else "low")
    if ("glyf" in t) != ("loca" in t):
        bad("loca" if "glyf" in t else "glyf", "glyf and loca must come together", "medium")

    head = t.get("head", b"")
    loc_format = None
    if len(head) >= 54:
        if int.from_bytes(head[12:16], "big") != 0x5F0F3CF5:
            bad("head", "head.magicNumber is not 0x5F0F3CF5", off=12)
        upem = _u16(head, 18)
        if not 16 <= upem <= 16384:
            bad("head", f"head.unitsPerEm {upem} outside 16..16384", "low", off=18)
        loc_format = struct.unpack_from(">h", head, 50)[0]
        if loc_format not in (0, 1):
            bad("head", f"head.indexToLocFormat {loc_format} is neither 0 nor 1", off=50)
            loc_format = None
    maxp = t.get("maxp", b"")
    num_glyphs = None
    state = FontCodeState()
    max_points = max_contours = max_comp_pts = max_comp_depth = max_instr = None
    if len(maxp) >= 6:
        ver = int.from_bytes(maxp[:4], "big")
        num_glyphs = _u16(maxp, 4)
        if ver == 0x00010000:
            if len(maxp) < 32:
                bad("maxp", f"maxp version 1.0 is {len(maxp)} bytes, needs 32")
            else:
                (
                    max_points,
                    max_contours,
                    max_comp_pts,
                    _,
                    _,
                    _,
                    state.max_storage,
                    state.max_function_defs,
                    state.max_instruction_defs,
                    state.max_stack,
                    max_instr,
                    _,
                    max_comp_depth,
                ) = struct.unpack_from(">13H", maxp, 6)
        elif ver != 0x00005000:
            bad("maxp", f"maxp version 0x{ver:08x} unknown", off=0)
        elif is_tt:
            bad("maxp", "TrueType outlines with a version 0.5 maxp (no hinting limits)", "low")
        if num_glyphs == 0:
            bad("maxp", "maxp.numGlyphs is 0", "low", off=4)
    hhea = t.get("hhea", b"")
    if len(hhea) >= 36 and num_glyphs is not None:
        nhm = _u16(hhea, 34)
        if nhm == 0 and num_glyphs:
            bad("hhea", "hhea.numberOfHMetrics is 0", off=34)
        elif nhm > num_glyphs:
            bad(
                "hhea",
                f"hhea.numberOfHMetrics {nhm} exceeds maxp.numGlyphs {num_glyphs}",
                "low",
                off=34,
            )
        if "hmtx" in t:
            need = 4 * min(nhm, num_glyphs) + 2 * max(num_glyphs - nhm, 0)
            if len(t["hmtx"]) < need:
                bad(
                    "hmtx",
                    f"hmtx is {len(t['hmtx'])} bytes, needs {need} for {nhm} metrics and {num_glyphs} glyphs",
                )
    os2 = t.get("OS/2", b"")
    if len(os2) >= 2:
        v = _u16(os2, 0)
        os2_need = OS2_MIN.get(v)
        if os2_need is None:
            bad("OS/2", f"OS/2 version {v} unknown", "low", off=0)
        elif len(os2) < os2_need:
            bad("OS/2", f"OS/2 version {v} is {len(os2)} bytes, needs {os2_need}")
    elif "OS/2" in t:
        bad("OS/2", "OS/2 table truncated")
    _name(ctx, t.get("name"))
    _cmap(ctx, t.get("cmap"), num_glyphs)
    # Hinting programs.
    for tag in ("fpgm", "prep"):
        if tag in t:
            code = t[tag]
            if len(code) > ctx.budget.limits.large_program_bytes:
                em.emit(
                    FontBytecode,
                    "low",
                    ctx.at(tag),
                    f"very large {tag} program ({len(code)} bytes)",
                    key=f"big{tag}",
                )
            _bytecode(ctx, tag, scan_program(code, tag, state), "")
    if "cvt " in t and len(t["cvt "]) % 2:
        bad("cvt ", "cvt table has an odd length")
    glyf, loca = t.get("glyf"), t.get("loca")
    if glyf is not None and loca is not None and num_glyphs is not None and loc_format is not None:
        _glyphs(
            ctx,
            glyf,
            loca,
            num_glyphs,
            loc_format,
            state,
            max_points,
            max_contours,
            max_instr,
            max_comp_depth,
        )
    for where, off, fn in undefined_calls(state)[:5]:
        tag = where if where != "glyph" else "glyf"
        em.emit(
            FontBytecode,
            "medium",
            ctx.at(tag, off),
            f"CALL of function {fn} that no FDEF defines",
            key=f"call{where}{fn}",
        )
    _ = max_comp_pts
    _cff(ctx, t, num_glyphs)
    _layout(ctx, t, num_glyphs)
    for tag in ("CBDT", "sbix", "SVG ", "EBDT"):
        if tag in t and len(t[tag]) > 32 << 20:
            em.emit(
                FontOutlines,
                "low",
                ctx.at(tag),
                f"oversized colour/bitmap table {tag} ({len(t[tag])} bytes)",
                key=f"bmp{tag}",
            )
    for a, b in (("CBDT", "CBLC"), ("EBDT", "EBLC")):
        if (a in t) != (b in t):
            em.emit(
                FontOutlines,
                "medium",
                ctx.at(a if a in t else b),
                f"{a} and {b} must come together",
                key=f"pair{a}",
            )
    _ = recs, d


def _bytecode(ctx: _Ctx, tag: str, issues: list[BytecodeIssue], extra: str) -> None:
    from duqhunt.sources.office.ttinstr import BytecodeIssue

    by_kind: dict[str, list[BytecodeIssue]] = {}
    for i in issues:
        assert isinstance(i, BytecodeIssue)
        by_kind.setdefault(i.kind, []).append(i)
    for kind, lst in by_kind.items():
        first = lst[0]
        sev: Severity = "high" if any(x.severity == "high" for x in lst) else first.severity  # type: ignore[assignment]
        more = f" (+{len(lst) - 1} more)" if len(lst) > 1 else ""
        ctx.em.emit(
            FontBytecode,
            sev,
            ctx.at(tag, first.offset, extra),
            first.message + more,
            key=f"bc{tag}{extra}{kind}",
            details={"check": kind, "count": len(lst)},
        )


def _glyphs(
    ctx: _Ctx,
    glyf: bytes,
    loca: bytes,
    num_glyphs: int,
    loc_format: int,
    state: FontCodeState,
    max_points: int | None,
    max_contours: int | None,
    max_instr: int | None,
    max_depth: int | None,
) -> None:
    em = ctx.em
    width = 2 if loc_format == 0 else 4
    need = (num_glyphs + 1) * width
    if len(loca) < need:
        em.emit(
            FontTables,
            "medium",
            ctx.at("loca"),
            f"loca is {len(loca)} bytes, needs {need} for {num_glyphs} glyphs",
            key="locashort",
        )
        num_glyphs = max(len(loca) // width - 1, 0)
    n = min(num_glyphs, ctx.budget.limits.max_glyphs)
    if width == 2:
        offs = [2 * x for x in struct.unpack_from(f">{n + 1}H", loca)] if n else []
    else:
        offs = list(struct.unpack_from(f">{n + 1}I", loca)) if n else []
    agg: dict[str, tuple[int, str, int]] = {}  # kind -> (glyph, message, count)

    over: dict[str, int] = {}  # maxp-limit kind -> the largest overshoot seen

    def note(kind: str, gid: int, msg: str, by: int = 0) -> None:
        g, m, c = agg.get(kind, (gid, msg, 0))
        agg[kind] = (g, m, c + 1)
        if by:
            over[kind] = max(over.get(kind, 0), by)

    code_issues: dict[str, tuple[int, BytecodeIssue, int]] = {}
    for gid in range(n):
        if gid % 512 == 0:
            ctx.budget.check_time(ctx.loc)
        s, e = offs[gid], offs[gid + 1]
        if e < s:
            note("loca-order", gid, f"loca offsets decrease at glyph {gid} (0x{s:x} > 0x{e:x})")
            continue
        if e > len(glyf):
            note(
                "glyf-oob",
                gid,
                f"glyph {gid} at 0x{s:x}..0x{e:x} runs past the glyf table ({len(glyf)} bytes)",
            )
            continue
        if e == s:
            continue
        g = glyf[s:e]
        if len(g) < 10:
            note("glyph-short", gid, f"glyph {gid} is {len(g)} bytes, shorter than a glyph header")
            continue
        nc = struct.unpack_from(">h", g, 0)[0]
        code: bytes | None = None
        if nc >= 0:
            if max_contours is not None and nc > max_contours:
                note(
                    "max-contours",
                    gid,
                    f"glyph {gid} has {nc} contours, maxp.maxContours is {max_contours}",
                    nc - max_contours,
                )
            p = 10 + 2 * nc
            if p + 2 > len(g):
                note("glyph-trunc", gid, f"glyph {gid} endPtsOfContours run past the glyph")
                continue
            ends = struct.unpack_from(f">{nc}H", g, 10) if nc else ()
            if not all(map(operator.lt, ends, ends[1:])):
                note("contours-order", gid, f"glyph {gid} endPtsOfContours not increasing")
            npts = ends[-1] + 1 if ends else 0
            if max_points is not None and npts > max_points:
                note(
                    "max-points",
                    gid,
                    f"glyph {gid} has {npts} points, maxp.maxPoints is {max_points}",
                    npts - max_points,
                )
            ilen = _u16(g, p)
            p += 2
            if p + ilen > len(g):
                note("instr-oob", gid, f"glyph {gid} instructionLength {ilen} runs past the glyph")
                continue
            code = g[p : p + ilen]
            p += ilen
            if not _flags_fit(g, p, npts):
                note(
                    "points-oob",
                    gid,
                    f"glyph {gid} flags/coordinates for {npts} points run past the glyph",
                )
        else:
            p = 10
            cont = True
            have_instr = False
            k = 0
            while cont:
                if p + 4 > len(g):
                    note(
                        "comp-trunc",
                        gid,
                        f"composite glyph {gid} component {k} runs past the glyph",
                    )
                    break
                flags, comp = struct.unpack_from(">HH", g, p)
                if comp >= num_glyphs:
                    note(
                        "comp-ref",
                        gid,
                        f"composite glyph {gid} references glyph {comp} of {num_glyphs}",
                    )
                if comp == gid:
                    note("comp-self", gid, f"composite glyph {gid} references itself")
                p += 4 + (4 if flags & 1 else 2)
                p += 8 if flags & 0x80 else 4 if flags & 0x40 else 2 if flags & 0x8 else 0
                have_instr = have_instr or bool(flags & 0x100)
                cont = bool(flags & 0x20)
                k += 1
                if k > 1024:
                    note("comp-many", gid, f"composite glyph {gid} has more than 1024 components")
                    break
            if have_instr and p + 2 <= len(g):
                ilen = _u16(g, p)
                if p + 2 + ilen > len(g):
                    note(
                        "instr-oob",
                        gid,
                        f"composite glyph {gid} instructionLength {ilen} runs past the glyph",
                    )
                else:
                    code = g[p + 2 : p + 2 + ilen]
        if code:
            if max_instr is not None and len(code) > max_instr:
                note(
                    "max-instr",
                    gid,
                    f"glyph {gid} program is {len(code)} bytes, maxp.maxSizeOfInstructions is {max_instr}",
                    len(code) - max_instr,
                )
            for iss in scan_program(code, "glyph", state, max_issues=4):
                prev = code_issues.get(iss.kind)
                code_issues[iss.kind] = (prev[0], prev[1], prev[2] + 1) if prev else (gid, iss, 1)
    _ = max_depth
    low_kinds = {"max-points", "max-contours", "max-instr", "comp-self"}
    for kind, (gid, msg, count) in agg.items():
        sev: Severity = "low" if kind in low_kinds else "medium"
        if kind in MAXP_SLACK and over.get(kind, 0) <= MAXP_SLACK[kind]:
            sev = "info"  # a few over a maxp maximum: fonts from many tools do this
        more = f" ({count} glyphs)" if count > 1 else ""
        em.emit(
            FontTables, sev, ctx.at("glyf", None, f"glyph {gid}"), msg + more, key=f"glyf{kind}"
        )
    from duqhunt.sources.office.ttinstr import BytecodeIssue

    for kind, (gid, iss, count) in code_issues.items():
        assert isinstance(iss, BytecodeIssue)
        more = f" ({count} glyph programs)" if count > 1 else ""
        em.emit(
            FontBytecode,
            iss.severity,  # type: ignore[arg-type]
            ctx.at("glyf", iss.offset, f"glyph {gid} instructions"),
            iss.message + more,
            key=f"gbc{kind}",
            details={"check": kind, "count": count},
        )


# glyf flags: the repeat bit (3) and the x/y coordinate bytes each flag stands for
_REPEAT_FLAG = re.compile(
    b"[" + b"".join(re.escape(bytes((f,))) for f in range(256) if f & 8) + b"]"
)
_X_BYTES = bytes(1 if f & 2 else 0 if f & 16 else 2 for f in range(256))
_Y_BYTES = bytes(1 if f & 4 else 0 if f & 32 else 2 for f in range(256))


def _flags_fit(g: bytes, p: int, npts: int) -> bool:
    """Walk the flag array; True if flags and coordinates fit in the glyph.

    Flags without the repeat bit stand for one point each: the run of them up to the next
    repeat flag is counted in C (translate + sum); repeat flags are read one by one."""
    xs = ys = 0
    i = 0
    n = len(g)
    while i < npts:
        end = min(p + (npts - i), n)
        m = _REPEAT_FLAG.search(g, p, end)
        stop = m.start() if m is not None else end
        if stop > p:
            run = g[p:stop]
            xs += sum(run.translate(_X_BYTES))
            ys += sum(run.translate(_Y_BYTES))
            i += stop - p
            p = stop
            continue
        if p >= n:
            return False
        f = g[p]
        p += 1
        rep = 1
        if f & 8:
            if p >= n:
                return False
            rep += g[p]
            p += 1
        xs += rep * (1 if f & 2 else 0 if f & 16 else 2)
        ys += rep * (1 if f & 4 else 0 if f & 32 else 2)
        i += rep
    return p + xs + ys <= n


def _name(ctx: _Ctx, raw: bytes | None) -> None:
    if raw is None:
        return
    em = ctx.em
    if len(raw) < 6:
        em.emit(FontTables, "medium", ctx.at("name"), "name table shorter than its header")
        return
    _fmt, count, soff = struct.unpack_from(">HHH", raw, 0)
    if 6 + 12 * count > len(raw):
        em.emit(
            FontTables,
            "medium",
            ctx.at("name", 2),
            f"name table declares {count} records, which run past the table",
        )
        count = (len(raw) - 6) // 12
    oob = 0
    for k in range(count):
        pid, _eid, _lid, nid, ln, off = struct.unpack_from(">6H", raw, 6 + 12 * k)
        s = soff + off
        if s + ln > len(raw):
            oob += 1
            if oob == 1:
                em.emit(
                    FontTables,
                    "medium",
                    ctx.at("name", 6 + 12 * k, f"record {k}"),
                    f"name record {k} (nameID {nid}) string runs past the table",
                    key="nameoob",
                )
            continue
        if nid not in (0, 1, 4, 7, 8, 16):
            continue
        b = raw[s : s + ln]
        text = b.decode("utf-16-be", "replace") if pid in (0, 3) else b.decode("latin-1")
        if nid in (1, 4, 16) and text not in ctx.result.names and len(ctx.result.names) < 8:
            ctx.result.names.append(text)
        _duqu_name(
            ctx,
            text,
            f"name record {k} (nameID {nid})",
            "copyright" if nid in (0, 7, 8) else "family-or-full-name",
        )


def _duqu_name(ctx: _Ctx, text: str, where: str, fld: str) -> None:
    if not text:
        return
    items = ctx.content.copyrights if fld == "copyright" else ctx.content.family_names
    low = text.lower()
    for value, conf, source in (
        (*ctx.content.family_names, *ctx.content.copyrights) if fld == "copyright" else items
    ):
        if value.lower() in low:
            ctx.em.emit(
                DuquFontTraits,
                "high",
                f"{ctx.loc}, {where}",
                f"font name {text!r} matches the Duqu installer font trait {value!r}",
                key=f"duqu{value}",
                confidence=conf,
                details={"source": source},
            )


def _duqu_raw(ctx: _Ctx) -> None:
    data = ctx.data
    for value, conf, source in (*ctx.content.family_names, *ctx.content.copyrights):
        for enc in ("latin-1", "utf-16-be", "utf-16-le"):
            o = data.find(value.encode(enc))
            if o >= 0:
                ctx.em.emit(
                    DuquFontTraits,
                    "high",
                    f"{ctx.loc}, offset 0x{o:x}",
                    f"Duqu installer font trait {value!r} in the font bytes ({enc})",
                    key=f"duqu{value}",
                    confidence=conf,
                    details={"source": source},
                )
                break


def _cmap(ctx: _Ctx, raw: bytes | None, num_glyphs: int | None) -> None:
    if raw is None:
        return
    em = ctx.em
    if len(raw) < 4:
        em.emit(FontTables, "medium", ctx.at("cmap"), "cmap table shorter than its header")
        return
    n = _u16(raw, 2)
    if 4 + 8 * n > len(raw):
        em.emit(
            FontTables,
            "medium",
            ctx.at("cmap", 2),
            f"cmap declares {n} encoding records, which run past the table",
        )
        n = (len(raw) - 4) // 8
    seen: set[int] = set()
    for k in range(n):
        _pid, _eid, off = struct.unpack_from(">HHI", raw, 4 + 8 * k)
        if off in seen:
            continue
        seen.add(off)
        if off + 4 > len(raw):
            em.emit(
                FontTables,
                "medium",
                ctx.at("cmap", 4 + 8 * k, f"encoding record {k}"),
                f"cmap subtable offset 0x{off:x} outside the table",
                key=f"cmapoff{k}",
            )
            continue
        fmt = _u16(raw, off)
        if fmt in (0, 2, 4, 6):
            ln = _u16(raw, off + 2)
        elif fmt in (8, 10, 12, 13, 14):
            if off + 8 > len(raw):
                ln = 1 << 31
            else:
                ln = (
                    int.from_bytes(raw[off + 4 : off + 8], "big")
                    if fmt != 14
                    else int.from_bytes(raw[off + 2 : off + 6], "big")
                )
        else:
            em.emit(
                FontTables,
                "medium",
                ctx.at("cmap", off, f"subtable {k}"),
                f"unknown cmap subtable format {fmt}",
                key=f"cmapfmt{k}",
            )
            continue
        if off + ln > len(raw):
            em.emit(
                FontTables,
                "medium",
                ctx.at("cmap", off, f"subtable {k}"),
                f"cmap format {fmt} subtable of {ln} bytes runs past the table",
                key=f"cmapln{k}",
            )
            continue
        if fmt == 4 and ln >= 14:
            seg2 = _u16(raw, off + 6)
            if seg2 % 2 or 16 + 4 * seg2 > ln:
                em.emit(
                    FontTables,
                    "medium",
                    ctx.at("cmap", off, f"subtable {k}"),
                    f"cmap format 4 segCountX2 {seg2} inconsistent with length {ln}",
                    key=f"cmap4{k}",
                )
    _ = num_glyphs


def _cff(ctx: _Ctx, t: dict[str, bytes], num_glyphs: int | None) -> None:
    """CFF and CFF2 structure and charstrings (sources/office/cff.py)."""
    for tag in ("CFF ", "CFF2"):
        raw = t.get(tag)
        if raw is None:
            continue
        try:
            rep = check_cff(raw, num_glyphs, ctx.budget, ctx.loc, cff2=tag == "CFF2")
        except InputError as exc:
            _not_checked(ctx, FontOutlines, tag, exc)
            continue
        for k in rep.mm_top_dicts[:1]:
            ctx.em.emit(
                FontOutlines,
                "medium",
                ctx.at(tag, None, f"Top DICT {k}"),
                "CFF Top DICT uses the Multiple Master operator (12 24), a legacy font-driver attack surface",
                key="mm",
            )
        _struct(ctx, FontOutlines, rep.issues)


FontAnalyser = Callable[[bytes, Emitter, str, DocContent, Budget], FontResult]
