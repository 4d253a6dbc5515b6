"""Font names and character maps: the name and cmap tables checked, and the Duqu installer's
font names looked for in them and in the raw bytes.
"""

from __future__ import annotations

import struct

from duqhunt.detectors.doc.catalogue import DuquFontTraits, FontTables
from duqhunt.detectors.doc.fontctx import FontCtx, u16


def check_name(ctx: FontCtx, raw: bytes | None) -> None:
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
        duqu_name(
            ctx,
            text,
            f"name record {k} (nameID {nid})",
            "copyright" if nid in (0, 7, 8) else "family-or-full-name",
        )


def duqu_name(ctx: FontCtx, text: str, where: str, fld: str) -> None:
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


def duqu_raw(ctx: FontCtx) -> None:
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


def check_cmap(ctx: FontCtx, raw: bytes | None, num_glyphs: int | None) -> None:
    if raw is None:
        return
    em = ctx.em
    if len(raw) < 4:
        em.emit(FontTables, "medium", ctx.at("cmap"), "cmap table shorter than its header")
        return
    n = u16(raw, 2)
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
        fmt = u16(raw, off)
        if fmt in (0, 2, 4, 6):
            ln = u16(raw, off + 2)
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
            seg2 = u16(raw, off + 6)
            if seg2 % 2 or 16 + 4 * seg2 > ln:
                em.emit(
                    FontTables,
                    "medium",
                    ctx.at("cmap", off, f"subtable {k}"),
                    f"cmap format 4 segCountX2 {seg2} inconsistent with length {ln}",
                    key=f"cmap4{k}",
                )
    _ = num_glyphs
