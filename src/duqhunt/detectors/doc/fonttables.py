"""The sfnt table checks: metrics and their cross-checks (head, maxp, hhea, hmtx, OS/2),
hinting bytecode, glyph outlines, OpenType layout and CFF.
"""

from __future__ import annotations

import functools
import operator
import re
import struct

from duqhunt.detectors.doc.catalogue import FontBytecode, FontOutlines, FontTables
from duqhunt.detectors.doc.fontctx import FontCtx, not_checked, struct_issues, u16, walk_table
from duqhunt.detectors.doc.fontnames import check_cmap, check_name
from duqhunt.errors import InputError
from duqhunt.model.finding import Severity
from duqhunt.sources.office.cff import check_cff
from duqhunt.sources.office.colr import check_colr
from duqhunt.sources.office.fonts import Directory, TableRecord
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
KNOWN_TAGS_MIN_LEN = {"head": 54, "hhea": 36, "post": 32, "maxp": 6}
OS2_MIN = {0: 78, 1: 86, 2: 96, 3: 96, 4: 96, 5: 100}


def check_layout_tables(ctx: FontCtx, t: dict[str, bytes], num_glyphs: int | None) -> None:
    """GDEF, GSUB, GPOS (otlayout) and COLR (colr) structure."""
    ng = num_glyphs if num_glyphs is not None else 0xFFFF
    where = ctx.loc
    gdef = GdefInfo()
    if "GDEF" in t:
        try:
            issues, gdef = check_gdef(t["GDEF"], ng, ctx.budget, where)
            struct_issues(ctx, FontTables, issues)
        except InputError as exc:
            not_checked(ctx, FontTables, "GDEF", exc)
    for tag in ("GSUB", "GPOS"):
        if tag in t:
            walk = functools.partial(check_layout, tag, t[tag], ng, gdef, ctx.budget, where)
            walk_table(ctx, FontTables, tag, walk)
    if "COLR" in t:
        walk_colr = functools.partial(check_colr, t["COLR"], ng, ctx.budget, where)
        walk_table(ctx, FontOutlines, "COLR", walk_colr)


def check_tables(
    ctx: FontCtx, d: Directory, t: dict[str, bytes], recs: dict[str, TableRecord]
) -> None:
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
        upem = u16(head, 18)
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
        num_glyphs = u16(maxp, 4)
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
        nhm = u16(hhea, 34)
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
        v = u16(os2, 0)
        os2_need = OS2_MIN.get(v)
        if os2_need is None:
            bad("OS/2", f"OS/2 version {v} unknown", "low", off=0)
        elif len(os2) < os2_need:
            bad("OS/2", f"OS/2 version {v} is {len(os2)} bytes, needs {os2_need}")
    elif "OS/2" in t:
        bad("OS/2", "OS/2 table truncated")
    check_name(ctx, t.get("name"))
    check_cmap(ctx, t.get("cmap"), num_glyphs)
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
    check_layout_tables(ctx, t, num_glyphs)
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


def _bytecode(ctx: FontCtx, tag: str, issues: list[BytecodeIssue], extra: str) -> None:
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
    ctx: FontCtx,
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
            ilen = u16(g, p)
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
                ilen = u16(g, p)
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


def _cff(ctx: FontCtx, t: dict[str, bytes], num_glyphs: int | None) -> None:
    """CFF and CFF2 structure and charstrings (sources/office/cff.py)."""
    for tag in ("CFF ", "CFF2"):
        raw = t.get(tag)
        if raw is None:
            continue
        try:
            rep = check_cff(raw, num_glyphs, ctx.budget, ctx.loc, cff2=tag == "CFF2")
        except InputError as exc:
            not_checked(ctx, FontOutlines, tag, exc)
            continue
        for k in rep.mm_top_dicts[:1]:
            ctx.em.emit(
                FontOutlines,
                "medium",
                ctx.at(tag, None, f"Top DICT {k}"),
                "CFF Top DICT uses the Multiple Master operator (12 24), a legacy font-driver attack surface",
                key="mm",
            )
        struct_issues(ctx, FontOutlines, rep.issues)
