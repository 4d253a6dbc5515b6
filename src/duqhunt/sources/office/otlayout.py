"""OpenType layout tables (GDEF, GSUB, GPOS) and ItemVariationStore, walked as structure.

Every offset is checked against the table and the header it must not point into; counts are
checked against maxp.numGlyphs and the lists they index; shared sub-tables are visited once
(memoised by absolute offset) and all work is counted (``Steps``). The walk reports faults as
``StructIssue`` values and never raises anything but ``InputError`` (work or time limit).
Semantics (what a lookup does) are not evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from duqhunt.sources.office.limits import Budget
from duqhunt.sources.office.otbase import IssueSeverity, Short, Steps, StructIssue, u16, u32

# valid subtable formats per lookup type; the extension type is handled apart
GSUB_FORMATS: dict[int, frozenset[int]] = {
    1: frozenset({1, 2}),
    2: frozenset({1}),
    3: frozenset({1}),
    4: frozenset({1}),
    5: frozenset({1, 2, 3}),
    6: frozenset({1, 2, 3}),
    8: frozenset({1}),
}
GPOS_FORMATS: dict[int, frozenset[int]] = {
    1: frozenset({1, 2}),
    2: frozenset({1, 2}),
    3: frozenset({1}),
    4: frozenset({1}),
    5: frozenset({1}),
    6: frozenset({1}),
    7: frozenset({1, 2, 3}),
    8: frozenset({1, 2, 3}),
}
EXTENSION = {"GSUB": 7, "GPOS": 9}
CONTEXT = {"GSUB": 5, "GPOS": 7}
CHAIN = {"GSUB": 6, "GPOS": 8}
MAX_ISSUES = 32


@dataclass(slots=True)
class _Walk:
    tag: str
    raw: bytes
    num_glyphs: int
    steps: Steps
    issues: list[StructIssue] = field(default_factory=list)
    done: set[tuple[str, int]] = field(default_factory=set)

    def bad(self, off: int, msg: str, check: str, sev: IssueSeverity = "medium") -> None:
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(StructIssue(self.tag, off, msg, check, sev))

    def first(self, kind: str, off: int) -> bool:
        """True the first time (kind, off) is visited: shared sub-tables are walked once."""
        key = (kind, off)
        if key in self.done:
            return False
        self.done.add(key)
        self.steps.tick()
        return True

    def offset(
        self, base: int, field_at: int, value: int, header_end: int, what: str
    ) -> int | None:
        """Resolve a sub-table offset; None (and an issue) if it points into the header or out."""
        if value == 0:
            return None
        if value < header_end:
            self.bad(
                field_at,
                f"{what} offset 0x{value:x} points inside the {header_end}-byte header at 0x{base:x}",
                "offset-in-header",
            )
            return None
        if base + value >= len(self.raw):
            self.bad(
                field_at,
                f"{what} offset 0x{value:x} (from 0x{base:x}) points past the table ({len(self.raw)} bytes)",
                "offset-oob",
            )
            return None
        return base + value

    # -- common tables ---------------------------------------------------------------------

    def coverage(self, at: int, what: str) -> None:
        if not self.first("cov", at):
            return
        try:
            fmt = u16(self.raw, at)
            n = u16(self.raw, at + 2)
            if fmt == 1:
                if n > self.num_glyphs:
                    self.bad(
                        at + 2,
                        f"{what} Coverage lists {n} glyphs, font has {self.num_glyphs}",
                        "coverage",
                    )
                    return
                self.steps.tick(n)
                if at + 4 + 2 * n > len(self.raw):
                    raise Short(at + 4, f"{what} Coverage glyph array")
                prev = -1
                for i in range(n):
                    g = u16(self.raw, at + 4 + 2 * i)
                    if g >= self.num_glyphs:
                        self.bad(
                            at + 4 + 2 * i,
                            f"{what} Coverage glyph {g} >= numGlyphs {self.num_glyphs}",
                            "coverage-gid",
                            "low",
                        )
                        return
                    if g <= prev:
                        self.bad(
                            at + 4 + 2 * i,
                            f"{what} Coverage glyphs not in increasing order",
                            "coverage-order",
                            "low",
                        )
                        return
                    prev = g
            elif fmt == 2:
                if n > self.num_glyphs:
                    self.bad(
                        at + 2,
                        f"{what} Coverage has {n} ranges, font has {self.num_glyphs} glyphs",
                        "coverage",
                    )
                    return
                self.steps.tick(n)
                if at + 4 + 6 * n > len(self.raw):
                    raise Short(at + 4, f"{what} Coverage range array")
                last_end = -1
                index = 0
                for i in range(n):
                    p = at + 4 + 6 * i
                    s, e, ci = u16(self.raw, p), u16(self.raw, p + 2), u16(self.raw, p + 4)
                    if s > e or s < last_end:
                        self.bad(
                            p,
                            f"{what} Coverage range {i} ({s}..{e}) reversed or overlapping",
                            "coverage-range",
                        )
                        return
                    if e >= self.num_glyphs:
                        self.bad(
                            p,
                            f"{what} Coverage range {i} ends at glyph {e} >= numGlyphs {self.num_glyphs}",
                            "coverage-gid",
                            "low",
                        )
                        return
                    if ci != index:
                        self.bad(
                            p + 4,
                            f"{what} Coverage range {i} startCoverageIndex {ci}, expected {index}",
                            "coverage-index",
                        )
                        return
                    index += e - s + 1
                    last_end = e
            else:
                self.bad(at, f"{what} Coverage format {fmt} unknown", "coverage-format")
        except Short as exc:
            self.bad(exc.offset, f"{what} Coverage: {exc}", "coverage-short")

    def classdef(self, at: int, what: str, max_class: int = 0xFFFF) -> None:
        if not self.first("cls", at):
            return
        try:
            fmt = u16(self.raw, at)
            if fmt == 1:
                start, n = u16(self.raw, at + 2), u16(self.raw, at + 4)
                if start >= self.num_glyphs or n > self.num_glyphs:
                    self.bad(
                        at + 2,
                        f"{what} ClassDef covers glyphs {start}+{n}, font has {self.num_glyphs}",
                        "classdef",
                    )
                    return
                self.steps.tick(n)
                if at + 6 + 2 * n > len(self.raw):
                    raise Short(at + 6, f"{what} ClassDef value array")
                for i in range(n):
                    v = u16(self.raw, at + 6 + 2 * i)
                    if v > max_class:
                        self.bad(
                            at + 6 + 2 * i,
                            f"{what} ClassDef class {v} above {max_class}",
                            "classdef-value",
                        )
                        return
            elif fmt == 2:
                n = u16(self.raw, at + 2)
                if n > self.num_glyphs:
                    self.bad(
                        at + 2,
                        f"{what} ClassDef has {n} ranges, font has {self.num_glyphs} glyphs",
                        "classdef",
                    )
                    return
                self.steps.tick(n)
                if at + 4 + 6 * n > len(self.raw):
                    raise Short(at + 4, f"{what} ClassDef range array")
                last_end = -1
                for i in range(n):
                    p = at + 4 + 6 * i
                    s, e, v = u16(self.raw, p), u16(self.raw, p + 2), u16(self.raw, p + 4)
                    if s > e or s <= last_end:
                        self.bad(
                            p,
                            f"{what} ClassDef range {i} ({s}..{e}) reversed or overlapping",
                            "classdef-range",
                        )
                        return
                    if v > max_class:
                        self.bad(
                            p + 4, f"{what} ClassDef class {v} above {max_class}", "classdef-value"
                        )
                        return
                    last_end = e
            else:
                self.bad(at, f"{what} ClassDef format {fmt} unknown", "classdef-format")
        except Short as exc:
            self.bad(exc.offset, f"{what} ClassDef: {exc}", "classdef-short")

    def var_store(self, at: int, what: str) -> None:
        """ItemVariationStore: format, region list and VarData arrays inside the table."""
        if not self.first("ivs", at):
            return
        raw = self.raw
        try:
            fmt = u16(raw, at)
            if fmt != 1:
                self.bad(at, f"{what} ItemVariationStore format {fmt} unknown", "varstore")
                return
            rl = u32(raw, at + 2)
            n = u16(raw, at + 6)
            if at + 8 + 4 * n > len(raw):
                raise Short(at + 8, f"{what} ItemVariationStore VarData offsets")
            regions = -1
            if rl:
                if at + rl + 4 > len(raw):
                    self.bad(
                        at + 2,
                        f"{what} VariationRegionList offset 0x{rl:x} past the table",
                        "varstore-oob",
                    )
                else:
                    axes, regions = u16(raw, at + rl), u16(raw, at + rl + 2)
                    if at + rl + 4 + 6 * axes * regions > len(raw):
                        self.bad(
                            at + rl,
                            f"{what} VariationRegionList of {regions} regions x {axes} axes runs past the table",
                            "varstore-short",
                        )
            self.steps.tick(n)
            for i in range(n):
                off = u32(raw, at + 8 + 4 * i)
                p = at + off
                if off == 0 or p + 6 > len(raw):
                    self.bad(
                        at + 8 + 4 * i,
                        f"{what} VarData {i} offset 0x{off:x} outside the table",
                        "varstore-oob",
                    )
                    continue
                items, word, nreg = u16(raw, p), u16(raw, p + 2), u16(raw, p + 4)
                long_words = bool(word & 0x8000)
                word &= 0x7FFF
                if word > nreg:
                    self.bad(
                        p + 2,
                        f"{what} VarData {i} wordDeltaCount {word} > regionIndexCount {nreg}",
                        "varstore",
                    )
                    continue
                if regions >= 0:
                    if p + 6 + 2 * nreg > len(raw):
                        raise Short(p + 6, f"{what} VarData {i} region indexes")
                    self.steps.tick(nreg)
                    for k in range(nreg):
                        if u16(raw, p + 6 + 2 * k) >= regions:
                            self.bad(
                                p + 6 + 2 * k,
                                f"{what} VarData {i} region index beyond the {regions} regions",
                                "varstore-region",
                            )
                            break
                row = (word * (4 if long_words else 2)) + (nreg - word) * (2 if long_words else 1)
                if p + 6 + 2 * nreg + items * row > len(raw):
                    self.bad(
                        p,
                        f"{what} VarData {i} of {items} rows x {row} bytes runs past the table",
                        "varstore-short",
                    )
        except Short as exc:
            self.bad(exc.offset, f"{what} ItemVariationStore: {exc}", "varstore-short")


# -- GDEF ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GdefInfo:
    mark_glyph_sets: int = 0
    present: bool = False


def check_gdef(
    raw: bytes, num_glyphs: int, budget: Budget, where: str
) -> tuple[list[StructIssue], GdefInfo]:
    w = _Walk("GDEF", raw, num_glyphs, Steps(budget, f"{where}, table GDEF", len(raw)))
    sets = 0
    try:
        major, minor = u16(raw, 0), u16(raw, 2)
        if major != 1 or minor not in (0, 2, 3):
            w.bad(0, f"GDEF version {major}.{minor} unknown", "version")
            return w.issues, GdefInfo(0, True)
        hdr = 12 + (2 if minor >= 2 else 0) + (4 if minor >= 3 else 0)
        if len(raw) < hdr:
            raise Short(0, f"GDEF {major}.{minor} header of {hdr} bytes")
        gc = w.offset(0, 4, u16(raw, 4), hdr, "GDEF GlyphClassDef")
        if gc is not None:
            w.classdef(gc, "GDEF GlyphClassDef", 4)
        al = w.offset(0, 6, u16(raw, 6), hdr, "GDEF AttachList")
        if al is not None:
            _attach_or_carets(w, al, "GDEF AttachList")
        lc = w.offset(0, 8, u16(raw, 8), hdr, "GDEF LigCaretList")
        if lc is not None:
            _attach_or_carets(w, lc, "GDEF LigCaretList")
        mc = w.offset(0, 10, u16(raw, 10), hdr, "GDEF MarkAttachClassDef")
        if mc is not None:
            w.classdef(mc, "GDEF MarkAttachClassDef")
        if minor >= 2:
            ms = w.offset(0, 12, u16(raw, 12), hdr, "GDEF MarkGlyphSetsDef")
            if ms is not None:
                sets = _mark_sets(w, ms)
        if minor >= 3:
            vs = w.offset(0, 14, u32(raw, 14), hdr, "GDEF ItemVariationStore")
            if vs is not None:
                w.var_store(vs, "GDEF")
    except Short as exc:
        w.bad(exc.offset, str(exc), "short")
    return w.issues, GdefInfo(sets, True)


def _attach_or_carets(w: _Walk, at: int, what: str) -> None:
    """AttachList and LigCaretList share a shape: coverage, count, offsets to per-glyph lists."""
    raw = w.raw
    cov, n = u16(raw, at), u16(raw, at + 2)
    end = 4 + 2 * n
    c = w.offset(at, at, cov, end, f"{what} Coverage")
    if c is not None:
        w.coverage(c, what)
    if n > w.num_glyphs:
        w.bad(at + 2, f"{what} count {n} above numGlyphs {w.num_glyphs}", "count")
        return
    w.steps.tick(n)
    for i in range(n):
        off = u16(raw, at + 4 + 2 * i)
        p = w.offset(at, at + 4 + 2 * i, off, end, f"{what} entry {i}")
        if p is None:
            if off == 0:
                w.bad(at + 4 + 2 * i, f"{what} entry {i} has a NULL offset", "offset-null")
            return
        k = u16(raw, p)
        if p + 2 + 2 * k > len(raw):
            w.bad(p, f"{what} entry {i} of {k} values runs past the table", "short")
            return


def _mark_sets(w: _Walk, at: int) -> int:
    raw = w.raw
    fmt, n = u16(raw, at), u16(raw, at + 2)
    if fmt != 1:
        w.bad(at, f"GDEF MarkGlyphSetsDef format {fmt} unknown", "format")
        return 0
    end = 4 + 4 * n
    w.steps.tick(n)
    for i in range(n):
        p = w.offset(at, at + 4 + 4 * i, u32(raw, at + 4 + 4 * i), end, f"GDEF mark glyph set {i}")
        if p is not None:
            w.coverage(p, f"GDEF mark glyph set {i}")
    return n


# -- GSUB / GPOS -----------------------------------------------------------------------------


def check_layout(
    tag: str, raw: bytes, num_glyphs: int, gdef: GdefInfo, budget: Budget, where: str
) -> list[StructIssue]:
    """GSUB or GPOS: header, LookupList, FeatureList, ScriptList, FeatureVariations offsets."""
    w = _Walk(tag, raw, num_glyphs, Steps(budget, f"{where}, table {tag}", len(raw)))
    try:
        major, minor = u16(raw, 0), u16(raw, 2)
        if major != 1 or minor > 1:
            w.bad(0, f"{tag} version {major}.{minor} unknown", "version")
            return w.issues
        hdr = 10 if minor == 0 else 14
        if len(raw) < hdr:
            raise Short(0, f"{tag} {major}.{minor} header of {hdr} bytes")
        n_lookups = 0
        ll = w.offset(0, 8, u16(raw, 8), hdr, f"{tag} LookupList")
        if ll is not None:
            n_lookups = _lookup_list(w, ll, gdef)
        n_features = 0
        fl = w.offset(0, 6, u16(raw, 6), hdr, f"{tag} FeatureList")
        if fl is not None:
            n_features = _feature_list(w, fl, n_lookups)
        sl = w.offset(0, 4, u16(raw, 4), hdr, f"{tag} ScriptList")
        if sl is not None:
            _script_list(w, sl, n_features)
        if minor == 1:
            w.offset(0, 10, u32(raw, 10), hdr, f"{tag} FeatureVariations")
    except Short as exc:
        w.bad(exc.offset, f"{tag}: {exc}", "short")
    return w.issues


def _lookup_list(w: _Walk, at: int, gdef: GdefInfo) -> int:
    raw = w.raw
    n = u16(raw, at)
    end = 2 + 2 * n
    if at + end > len(raw):
        raise Short(at, f"{w.tag} LookupList of {n} offsets")
    w.steps.tick(n)
    for i in range(n):
        p = w.offset(at, at + 2 + 2 * i, u16(raw, at + 2 + 2 * i), end, f"{w.tag} Lookup {i}")
        if p is None:
            continue
        if w.first("lookup", p):
            try:
                _lookup(w, p, i, gdef)
            except Short as exc:
                w.bad(exc.offset, f"{w.tag} Lookup {i}: {exc}", "lookup-short")
    return n


def _lookup(w: _Walk, at: int, index: int, gdef: GdefInfo) -> None:
    raw, tag = w.raw, w.tag
    ltype, flag, n = u16(raw, at), u16(raw, at + 2), u16(raw, at + 4)
    formats = GSUB_FORMATS if tag == "GSUB" else GPOS_FORMATS
    ext = EXTENSION[tag]
    if ltype not in formats and ltype != ext:
        w.bad(at, f"{tag} Lookup {index} has unknown lookup type {ltype}", "lookup-type")
        return
    end = 6 + 2 * n + (2 if flag & 0x10 else 0)
    if at + end > len(raw):
        raise Short(at + 6, f"{tag} Lookup {index} subtable offsets")
    if flag & 0x10:
        mfs = u16(raw, at + 6 + 2 * n)
        if gdef.present and mfs >= gdef.mark_glyph_sets:
            w.bad(
                at + 6 + 2 * n,
                f"{tag} Lookup {index} uses mark filtering set {mfs}, GDEF defines {gdef.mark_glyph_sets}",
                "mark-set",
            )
    w.steps.tick(n)
    for i in range(n):
        p = w.offset(
            at, at + 6 + 2 * i, u16(raw, at + 6 + 2 * i), end, f"{tag} Lookup {index} subtable {i}"
        )
        if p is None:
            continue
        stype = ltype
        if ltype == ext:
            if not w.first("ext", p):
                continue
            fmt, stype, off = u16(raw, p), u16(raw, p + 2), u32(raw, p + 4)
            if fmt != 1 or stype not in formats:
                w.bad(
                    p,
                    f"{tag} Lookup {index} extension subtable {i}: format {fmt}, type {stype}",
                    "extension",
                )
                continue
            q = w.offset(p, p + 4, off, 8, f"{tag} Lookup {index} extension {i}")
            if q is None:
                continue
            p = q
        if w.first(f"sub{stype}", p):
            _subtable(w, p, stype, formats[stype], f"{tag} Lookup {index} subtable {i}")


def _subtable(w: _Walk, at: int, stype: int, formats: frozenset[int], what: str) -> None:
    raw, tag = w.raw, w.tag
    fmt = u16(raw, at)
    if fmt not in formats:
        w.bad(at, f"{what} (type {stype}) has unknown format {fmt}", "subtable-format")
        return
    covs: list[tuple[int, int]] = []  # (field position, offset value)
    hdr = 4
    if stype in (CONTEXT[tag], CHAIN[tag]) and fmt == 3:
        if stype == CONTEXT[tag]:
            gc = u16(raw, at + 2)
            hdr = 6 + 2 * gc
            covs = [(at + 6 + 2 * k, u16(raw, at + 6 + 2 * k)) for k in range(gc)]
        else:
            p = at + 2
            for _ in range(3):
                c = u16(raw, p)
                covs += [(p + 2 + 2 * k, u16(raw, p + 2 + 2 * k)) for k in range(c)]
                w.steps.tick(c)
                p += 2 + 2 * c
            hdr = p - at
    else:
        covs = [(at + 2, u16(raw, at + 2))]
    for pos, off in covs:
        if off == 0:
            w.bad(pos, f"{what} Coverage offset is NULL", "offset-null")
            continue
        cov = w.offset(at, pos, off, hdr, f"{what} Coverage")
        if cov is not None:
            w.coverage(cov, what)


def _feature_list(w: _Walk, at: int, n_lookups: int) -> int:
    raw, tag = w.raw, w.tag
    n = u16(raw, at)
    end = 2 + 6 * n
    if at + end > len(raw):
        raise Short(at, f"{tag} FeatureList of {n} records")
    w.steps.tick(n)
    for i in range(n):
        p = w.offset(at, at + 6 + 6 * i, u16(raw, at + 6 + 6 * i), end, f"{tag} Feature {i}")
        if p is None or not w.first("feature", p):
            continue
        try:
            params, k = u16(raw, p), u16(raw, p + 2)
            if params and (params < 4 + 2 * k or p + params >= len(raw)):
                w.bad(
                    p,
                    f"{tag} Feature {i} FeatureParams offset 0x{params:x} invalid",
                    "feature-params",
                )
            if p + 4 + 2 * k > len(raw):
                raise Short(p + 4, f"{tag} Feature {i} lookup indexes")
            w.steps.tick(k)
            for j in range(k):
                li = u16(raw, p + 4 + 2 * j)
                if li >= n_lookups:
                    w.bad(
                        p + 4 + 2 * j,
                        f"{tag} Feature {i} refers to lookup {li} of {n_lookups}",
                        "lookup-index",
                    )
                    break
        except Short as exc:
            w.bad(exc.offset, f"{tag} Feature {i}: {exc}", "feature-short")
    return n


def _script_list(w: _Walk, at: int, n_features: int) -> None:
    raw, tag = w.raw, w.tag
    n = u16(raw, at)
    end = 2 + 6 * n
    if at + end > len(raw):
        raise Short(at, f"{tag} ScriptList of {n} records")
    w.steps.tick(n)
    for i in range(n):
        stag = raw[at + 2 + 6 * i : at + 6 + 6 * i].decode("latin-1")
        p = w.offset(at, at + 6 + 6 * i, u16(raw, at + 6 + 6 * i), end, f"{tag} Script {stag!r}")
        if p is None or not w.first("script", p):
            continue
        try:
            dflt, k = u16(raw, p), u16(raw, p + 2)
            send = 4 + 6 * k
            if stag == "DFLT" and dflt == 0:
                w.bad(
                    p,
                    f"{tag} script 'DFLT' has no DefaultLangSys (required by the spec)",
                    "dflt-langsys",
                )
            if p + send > len(raw):
                raise Short(p + 4, f"{tag} Script {stag!r} LangSys records")
            w.steps.tick(k)
            targets = []
            d = w.offset(p, p, dflt, send, f"{tag} Script {stag!r} DefaultLangSys")
            if d is not None:
                targets.append((d, "default"))
            for j in range(k):
                lt = raw[p + 4 + 6 * j : p + 8 + 6 * j].decode("latin-1")
                q = w.offset(
                    p,
                    p + 8 + 6 * j,
                    u16(raw, p + 8 + 6 * j),
                    send,
                    f"{tag} Script {stag!r} LangSys {lt!r}",
                )
                if q is not None:
                    targets.append((q, lt))
            for q, lt in targets:
                if w.first("langsys", q):
                    _langsys(w, q, f"{tag} Script {stag!r} LangSys {lt!r}", n_features)
        except Short as exc:
            w.bad(exc.offset, f"{tag} Script {stag!r}: {exc}", "script-short")


def _langsys(w: _Walk, at: int, what: str, n_features: int) -> None:
    raw = w.raw
    req, k = u16(raw, at + 2), u16(raw, at + 4)
    if req != 0xFFFF and req >= n_features:
        w.bad(at + 2, f"{what} required feature {req} of {n_features}", "feature-index")
    if at + 6 + 2 * k > len(raw):
        raise Short(at + 6, f"{what} feature indexes")
    w.steps.tick(k)
    for j in range(k):
        fi = u16(raw, at + 6 + 2 * j)
        if fi >= n_features:
            w.bad(at + 6 + 2 * j, f"{what} refers to feature {fi} of {n_features}", "feature-index")
            return
