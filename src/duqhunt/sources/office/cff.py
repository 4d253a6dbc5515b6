"""CFF and CFF2 tables (Compact Font Format 1 and 2), walked as structure.

Header, INDEXes (16-bit counts in CFF, 32-bit in CFF2), Top/Font/Private DICTs (the operators
CFF2 allows in each), FDSelect, and every Type 2 charstring, decoded statically: truncated
operands, reserved operators, operand-stack overflow, subroutine calls out of range or nested
too deep, hint masks running past the charstring, a CFF charstring without endchar. Nothing is
rasterised; values computed by arithmetic operators are unknown and only their stack effect is
tracked. All work is counted (``Steps``); the walk returns ``StructIssue`` values and raises
only ``InputError`` (work or time limit).
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, field

from duqhunt.sources.office.limits import Budget
from duqhunt.sources.office.otbase import IssueSeverity, Short, Steps, StructIssue, u8, u16, u32

MAX_ISSUES = 32
MAX_SUBR_DEPTH = 10
MM_OPERATOR = 0x0C18  # 12 24: Multiple Master blend in CFF1 Top DICTs (removed from the spec)
CFF2_TOP_OPS = frozenset({0x0C07, 17, 0x0C24, 0x0C25, 24})
CFF2_FD_OPS = frozenset({18})
CFF2_PRIVATE_FORBIDDEN = frozenset({0x0C0E, 0x0C13, 20, 21})
# Type 2 escape operators (12 x): stack effect (pops, pushes) of the arithmetic ones (CFF only)
ARITH: dict[int, tuple[int, int]] = {
    3: (2, 1),  # and
    4: (2, 1),  # or
    5: (1, 1),  # not
    9: (1, 1),  # abs
    10: (2, 1),  # add
    11: (2, 1),  # sub
    12: (2, 1),  # div
    14: (1, 1),  # neg
    15: (2, 1),  # eq
    18: (1, 0),  # drop
    20: (2, 0),  # put
    21: (1, 1),  # get
    22: (4, 1),  # ifelse
    23: (0, 1),  # random
    24: (2, 1),  # mul
    26: (1, 1),  # sqrt
    27: (1, 2),  # dup
    28: (2, 2),  # exch
    29: (1, 1),  # index (pops i, pushes a copy)
    30: (2, 0),  # roll
}
FLEX = frozenset({34, 35, 36, 37})
CLEARING = frozenset({4, 5, 6, 7, 8, 21, 22, 24, 25, 26, 27, 30, 31})
STEMS = frozenset({1, 3, 18, 23})


class _Bad(Exception):
    def __init__(self, offset: int, message: str, check: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.check = check


@dataclass(frozen=True, slots=True)
class Index:
    count: int
    start: int  # offset of the INDEX
    data: int  # offset of byte 0 of the object data (offsets are relative to data - 1)
    offsets: tuple[int, ...]
    end: int

    def item(self, i: int) -> tuple[int, int]:
        return self.data + self.offsets[i] - 1, self.data + self.offsets[i + 1] - 1


def read_index(raw: bytes, p: int, *, cff2: bool, what: str, steps: Steps) -> Index:
    """One INDEX at ``p``; raises _Bad with the reason if it does not fit or is disordered."""
    try:
        count = u32(raw, p) if cff2 else u16(raw, p)
    except Short:
        raise _Bad(p, f"{what} INDEX at 0x{p:x} runs past the end of the table", "index") from None
    head = 4 if cff2 else 2
    if count == 0:
        return Index(0, p, p + head, (), p + head)
    if p + head >= len(raw):
        raise _Bad(p, f"{what} INDEX at 0x{p:x} has no offSize byte", "index")
    osz = raw[p + head]
    if not 1 <= osz <= 4:
        raise _Bad(p + head, f"{what} INDEX at 0x{p:x} has offSize {osz}", "index")
    arr = p + head + 1
    if count + 1 > (len(raw) - arr) // osz:
        raise _Bad(
            p, f"{what} INDEX at 0x{p:x} declares {count} objects, more than fit", "index-count"
        )
    steps.tick(count // 8 + 1)
    data = arr + (count + 1) * osz
    offs = tuple(
        int.from_bytes(raw[arr + i * osz : arr + (i + 1) * osz], "big") for i in range(count + 1)
    )
    if offs[0] != 1:
        raise _Bad(arr, f"{what} INDEX at 0x{p:x} first offset is {offs[0]}, not 1", "index")
    for i in range(count):
        if offs[i + 1] < offs[i]:
            raise _Bad(
                arr + (i + 1) * osz,
                f"{what} INDEX at 0x{p:x} offset {i + 1} decreases ({offs[i + 1]} < {offs[i]})",
                "index-order",
            )
    end = data + offs[-1] - 1
    if end > len(raw):
        raise _Bad(
            p,
            f"{what} INDEX at 0x{p:x} data ends at 0x{end:x}, past the table ({len(raw)} bytes)",
            "index-oob",
        )
    return Index(count, p, data, offs, end)


Operand = int | float


def read_dict(raw: bytes, s: int, e: int, what: str) -> list[tuple[int, list[Operand], int]]:
    """DICT data in raw[s:e] -> [(operator, operands, offset of the operator)]."""
    out: list[tuple[int, list[Operand], int]] = []
    stack: list[Operand] = []
    i = s
    while i < e:
        b = raw[i]
        try:
            if b <= 21 or b in (22, 23, 24):
                at = i
                op = b
                i += 1
                if b == 12:
                    if i >= e:
                        raise _Bad(at, f"{what} DICT escape byte at the end", "dict")
                    op = 0x0C00 | raw[i]
                    i += 1
                out.append((op, stack, at))
                stack = []
                continue
            if b == 28:
                if i + 3 > e:
                    raise Short(i, "operand")
                stack.append(struct.unpack_from(">h", raw, i + 1)[0])
                i += 3
            elif b == 29:
                if i + 5 > e:
                    raise Short(i, "operand")
                stack.append(struct.unpack_from(">i", raw, i + 1)[0])
                i += 5
            elif b == 30:
                i += 1
                while i < e and (raw[i] & 0x0F) != 0x0F and (raw[i] >> 4) != 0x0F:
                    i += 1
                if i >= e:
                    raise Short(i, "real operand")
                i += 1
                stack.append(0.0)
            elif 32 <= b <= 246:
                stack.append(b - 139)
                i += 1
            elif 247 <= b <= 254:
                if i + 2 > e:
                    raise Short(i, "operand")
                w = raw[i + 1]
                stack.append((b - 247) * 256 + w + 108 if b <= 250 else -(b - 251) * 256 - w - 108)
                i += 2
            else:
                raise _Bad(i, f"{what} DICT byte {b} at 0x{i:x} is reserved", "dict")
        except Short as exc:
            raise _Bad(
                exc.offset, f"{what} DICT operand at 0x{exc.offset:x} truncated", "dict"
            ) from None
        if len(stack) > 513:
            raise _Bad(i, f"{what} DICT operand stack overflow", "dict")
    if stack:
        raise _Bad(e, f"{what} DICT ends with {len(stack)} operands and no operator", "dict")
    return out


def _int(v: list[Operand], n: int = 1) -> list[int] | None:
    if len(v) != n or not all(isinstance(x, int) for x in v):
        return None
    return [int(x) for x in v]


@dataclass(slots=True)
class _Font:
    raw: bytes
    tag: str
    cff2: bool
    steps: Steps
    issues: list[StructIssue] = field(default_factory=list)
    gsubrs: Index | None = None
    region_counts: list[int] = field(default_factory=list)
    mm_dicts: list[int] = field(default_factory=list)
    cs_issues: int = 0

    def bad(self, off: int, msg: str, check: str, sev: IssueSeverity = "medium") -> None:
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(StructIssue(self.tag, off, msg, check, sev))


@dataclass(slots=True)
class _Private:
    subrs: Index | None = None
    vsindex: int = 0


@dataclass(frozen=True, slots=True)
class CffReport:
    issues: list[StructIssue]
    mm_top_dicts: list[int]


# Reports of the tables walked so far in this scan, by content: a CFF table embedded in many
# documents, or shared by the variants of one font, is walked once. The walk is a function of
# the bytes, the glyph count, the flavour and the step limit; walks stopped by the step limit
# or the deadline raise and are not kept. scan_documents clears it at the start of each scan.
_MEMO: dict[tuple[bytes, int | None, bool, int], CffReport] = {}
_MEMO_MAX = 512


def clear_memo() -> None:
    _MEMO.clear()


def check_cff(
    raw: bytes, num_glyphs: int | None, budget: Budget, where: str, *, cff2: bool
) -> CffReport:
    key = (hashlib.sha256(raw).digest(), num_glyphs, cff2, budget.limits.max_struct_steps)
    rep = _MEMO.get(key)
    if rep is None:
        rep = _check_cff(raw, num_glyphs, budget, where, cff2=cff2)
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = rep
    return CffReport(list(rep.issues), list(rep.mm_top_dicts))


def _check_cff(
    raw: bytes, num_glyphs: int | None, budget: Budget, where: str, *, cff2: bool
) -> CffReport:
    tag = "CFF2" if cff2 else "CFF "
    f = _Font(raw, tag, cff2, Steps(budget, f"{where}, table {tag}", len(raw)))
    try:
        _walk(f, num_glyphs)
    except _Bad as exc:
        f.bad(exc.offset, exc.message, exc.check)
    except Short as exc:
        f.bad(exc.offset, f"{tag}: {exc}", "short")
    return CffReport(f.issues, f.mm_dicts)


def _walk(f: _Font, num_glyphs: int | None) -> None:
    raw, tag = f.raw, f.tag
    if len(raw) < 4:
        raise _Bad(0, f"{tag} header truncated ({len(raw)} bytes)", "header")
    major, hdr = raw[0], raw[2]
    if major != (2 if f.cff2 else 1):
        raise _Bad(0, f"{tag} major version {major} unexpected", "header")
    if f.cff2:
        if len(raw) < 5:
            raise _Bad(0, f"{tag} header truncated", "header")
        top_len = u16(raw, 3)
        if hdr < 5 or top_len == 0 or hdr + top_len > len(raw):
            raise _Bad(
                3,
                f"{tag} hdrSize {hdr} + topDictLength {top_len} outside the table ({len(raw)} bytes)",
                "header",
            )
        tops = [(hdr, hdr + top_len)]
        f.gsubrs = read_index(
            raw, hdr + top_len, cff2=True, what=f"{tag} Global Subrs", steps=f.steps
        )
    else:
        if hdr < 4 or hdr >= len(raw):
            raise _Bad(2, f"{tag} hdrSize {hdr} invalid", "header")
        names = read_index(raw, hdr, cff2=False, what=f"{tag} Name", steps=f.steps)
        top_idx = read_index(raw, names.end, cff2=False, what=f"{tag} Top DICT", steps=f.steps)
        strings = read_index(raw, top_idx.end, cff2=False, what=f"{tag} String", steps=f.steps)
        f.gsubrs = read_index(
            raw, strings.end, cff2=False, what=f"{tag} Global Subrs", steps=f.steps
        )
        if top_idx.count != names.count:
            f.bad(
                top_idx.start,
                f"{tag} has {names.count} names but {top_idx.count} Top DICTs",
                "index",
            )
        tops = [top_idx.item(i) for i in range(min(top_idx.count, 16))]
    for k, (s, e) in enumerate(tops):
        _top(f, k, s, e, num_glyphs)


def _top(f: _Font, k: int, s: int, e: int, num_glyphs: int | None) -> None:
    raw, tag, cff2 = f.raw, f.tag, f.cff2
    what = f"{tag} Top DICT" + ("" if cff2 else f" {k}")
    ops = read_dict(raw, s, e, what)
    d: dict[int, list[Operand]] = {}
    for op, args, at in ops:
        if cff2 and op not in CFF2_TOP_OPS:
            f.bad(
                at,
                f"{what} has operator {_opname(op)} at 0x{at:x}, not allowed in a CFF2 Top DICT",
                "cff2-op",
            )
        if op == MM_OPERATOR and not cff2:
            f.mm_dicts.append(k)
        if op in d and op in (17, 0x0C24, 0x0C25, 24, 18):
            f.bad(at, f"{what} repeats operator {_opname(op)}", "dict-repeat")
        d[op] = args
    if cff2:
        vs = d.get(24)
        if vs is not None:
            v = _int(vs)
            if v is None or not 0 < v[0] < len(raw):
                f.bad(s, f"{what} vstore offset outside the table", "vstore")
            else:
                f.region_counts = _vstore_regions(f, v[0])
    cs_args = d.get(17)
    if cs_args is None:
        f.bad(s, f"{what} has no CharStrings", "charstrings")
        return
    cs = _int(cs_args)
    if cs is None or not 0 < cs[0] < len(raw):
        f.bad(s, f"{what} CharStrings offset {cs_args} outside the table", "charstrings")
        return
    charstrings = read_index(raw, cs[0], cff2=cff2, what=f"{tag} CharStrings", steps=f.steps)
    if num_glyphs is not None and charstrings.count != num_glyphs:
        f.bad(
            cs[0],
            f"{tag} CharStrings INDEX has {charstrings.count} glyphs, maxp.numGlyphs is {num_glyphs}",
            "glyph-count",
        )
    privates: list[_Private] = []
    fds = d.get(0x0C24)
    if fds is not None:
        fa = _int(fds)
        if fa is None or not 0 < fa[0] < len(raw):
            f.bad(s, f"{what} FDArray offset outside the table", "fdarray")
            return
        fd_idx = read_index(raw, fa[0], cff2=cff2, what=f"{tag} FDArray", steps=f.steps)
        for i in range(min(fd_idx.count, 256)):
            fs, fe = fd_idx.item(i)
            privates.append(_font_dict(f, i, fs, fe))
        if fd_idx.count > 256:
            f.bad(fa[0], f"{tag} FDArray has {fd_idx.count} Font DICTs (more than 256)", "fdarray")
    elif cff2:
        f.bad(s, f"{what} has no FDArray (required in CFF2)", "fdarray")
        privates.append(_Private())
    else:
        privates.append(_private(f, d.get(18), f"{what} Private DICT"))
    fd_of = _fd_select(f, d.get(0x0C25), charstrings.count, len(privates))
    _charstrings(f, charstrings, privates, fd_of)


def _font_dict(f: _Font, i: int, s: int, e: int) -> _Private:
    what = f"{f.tag} Font DICT {i}"
    priv: list[Operand] | None = None
    for op, args, at in read_dict(f.raw, s, e, what):
        if f.cff2 and op not in CFF2_FD_OPS:
            f.bad(
                at,
                f"{what} has operator {_opname(op)} at 0x{at:x}, not allowed in a CFF2 Font DICT",
                "cff2-op",
            )
        if op == 18:
            priv = args
    if priv is None and f.cff2:
        f.bad(s, f"{what} has no Private operator (required in CFF2)", "private")
    return _private(f, priv, f"{what} Private DICT")


def _private(f: _Font, args: list[Operand] | None, what: str) -> _Private:
    out = _Private()
    if args is None:
        return out
    v = _int(args, 2)
    if v is None or v[0] < 0 or v[1] < 0 or v[1] + v[0] > len(f.raw):
        f.bad(0, f"{what} {args} lies outside the table ({len(f.raw)} bytes)", "private")
        return out
    size, off = v
    for op, pargs, at in read_dict(f.raw, off, off + size, what):
        if f.cff2 and op in CFF2_PRIVATE_FORBIDDEN:
            f.bad(at, f"{what} has operator {_opname(op)}, not allowed in CFF2", "cff2-op")
        if op == 19:
            sv = _int(pargs)
            if sv is None or not 0 < off + sv[0] < len(f.raw):
                f.bad(at, f"{what} Subrs offset {pargs} outside the table", "subrs")
            else:
                out.subrs = read_index(
                    f.raw, off + sv[0], cff2=f.cff2, what=f"{what} Subrs", steps=f.steps
                )
        if op == 22 and f.cff2:
            vv = _int(pargs)
            out.vsindex = vv[0] if vv else -1
    return out


def _vstore_regions(f: _Font, at: int) -> list[int]:
    raw = f.raw
    try:
        length = u16(raw, at)
        base = at + 2
        if length == 0:
            return []
        if base + length > len(raw):
            f.bad(at, f"{f.tag} VariationStore of {length} bytes runs past the table", "vstore")
            return []
        n = u16(raw, base + 6)
        out = []
        f.steps.tick(n)
        for i in range(n):
            off = u32(raw, base + 8 + 4 * i)
            out.append(u16(raw, base + off + 4) if off else 0)
        return out
    except Short as exc:
        f.bad(exc.offset, f"{f.tag} VariationStore: {exc}", "vstore")
        return []


def _fd_select(f: _Font, args: list[Operand] | None, n_glyphs: int, n_fds: int) -> list[int] | None:
    """gid -> FD index, or None when there is no FDSelect (every glyph uses FD 0)."""
    if args is None:
        if n_fds > 1:
            f.bad(0, f"{f.tag} has {n_fds} Font DICTs but no FDSelect", "fdselect")
        return None
    v = _int(args)
    raw = f.raw
    if v is None or not 0 < v[0] < len(raw):
        f.bad(0, f"{f.tag} FDSelect offset {args} outside the table", "fdselect")
        return None
    at = v[0]
    fmt = u8(raw, at)
    out = [0] * n_glyphs
    f.steps.tick(n_glyphs // 16 + 1)
    if fmt == 0:
        if at + 1 + n_glyphs > len(raw):
            raise _Bad(at, f"{f.tag} FDSelect format 0 runs past the table", "fdselect")
        out = list(raw[at + 1 : at + 1 + n_glyphs])
    elif fmt in (3, 4):
        wide = fmt == 4
        n = u32(raw, at + 1) if wide else u16(raw, at + 1)
        rec = 6 if wide else 3
        p = at + (5 if wide else 3)
        if n == 0 or p + n * rec + (4 if wide else 2) > len(raw):
            raise _Bad(
                at, f"{f.tag} FDSelect format {fmt} with {n} ranges does not fit", "fdselect"
            )
        f.steps.tick(n)
        prev = -1
        for i in range(n):
            first = u32(raw, p) if wide else u16(raw, p)
            fd = u16(raw, p + 4) if wide else raw[p + 2]
            nxt = u32(raw, p + rec) if wide else u16(raw, p + rec)
            if (i == 0 and first != 0) or first <= prev or nxt <= first or nxt > n_glyphs:
                raise _Bad(
                    p,
                    f"{f.tag} FDSelect range {i} ({first}..{nxt}) out of order or past the glyphs",
                    "fdselect",
                )
            out[first:nxt] = [fd] * (nxt - first)
            prev = first
            p += rec
        if (u32(raw, p) if wide else u16(raw, p)) != n_glyphs:
            f.bad(
                p,
                f"{f.tag} FDSelect sentinel does not equal the glyph count {n_glyphs}",
                "fdselect",
            )
    else:
        raise _Bad(at, f"{f.tag} FDSelect format {fmt} unknown", "fdselect")
    bad_fd = next((g for g, x in enumerate(out) if x >= n_fds), None)
    if bad_fd is not None:
        f.bad(
            at,
            f"{f.tag} FDSelect maps glyph {bad_fd} to Font DICT {out[bad_fd]} of {n_fds}",
            "fdselect",
        )
        return [x if x < n_fds else 0 for x in out]
    return out


# -- charstrings -----------------------------------------------------------------------------

# One token of a charstring: a run of numbers (1-byte 32..246, 2-byte 247..254, 5-byte 255,
# 3-byte 28), then what ends it: an operator (12 x, or one byte 0..31 but 12 and 28), a lone
# byte (a number truncated by the end, or an escape at the end) or the end itself. Every lead
# byte belongs to one alternative and the last ones match anything, so the tokens of finditer
# are contiguous and unique, and C does the per-byte work.
_NUMBER = rb"[\x20-\xf6]|[\xf7-\xfe].|\xff....|\x1c.."
_CS_TOKEN = re.compile(
    rb"((?:" + _NUMBER + rb")*)(\x0c.|[\x00-\x0b\x0d-\x1b\x1d-\x1f]|.|\Z)", re.DOTALL
)
_NUM_TOK = re.compile(_NUMBER, re.DOTALL)
# number token -> value for 1- and 2-byte numbers; 255 (16.16 fixed) is unknown (None)
_TOKEN_VALUE: dict[bytes, int] = {bytes((b,)): b - 139 for b in range(32, 247)}
_TOKEN_VALUE.update(
    {bytes((b, w)): (b - 247) * 256 + w + 108 for b in range(247, 251) for w in range(256)}
)
_TOKEN_VALUE.update(
    {bytes((b, w)): -(b - 251) * 256 - w - 108 for b in range(251, 255) for w in range(256)}
)
# decoded number runs (runs repeat a lot across glyphs); cleared when full
_RUN_VALUES: dict[bytes, tuple[int | None, ...]] = {}
_RUN_CACHE_MAX = 1 << 14
_FLUSH = 4096  # operators counted locally between Steps.tick calls (and so time checks)


@dataclass(slots=True)
class _Run:
    stack: list[int | None]
    stems: int = 0
    ended: bool = False
    vsindex: int = 0
    known: bool = True  # False once the stack height is no longer known (blend without regions)


def _charstrings(f: _Font, cs: Index, privates: list[_Private], fd_of: list[int] | None) -> None:
    for gid in range(cs.count):
        if len(f.issues) >= MAX_ISSUES:
            return
        fd = fd_of[gid] if fd_of is not None and gid < len(fd_of) else 0
        priv = privates[fd] if fd < len(privates) else _Private()
        s, e = cs.item(gid)
        run = _Run([], vsindex=priv.vsindex)
        try:
            _exec(f, s, e, priv.subrs, run, 0, gid)
            if not f.cff2 and not run.ended:
                raise _Bad(
                    s, f"{f.tag} charstring of glyph {gid} at 0x{s:x} has no endchar", "endchar"
                )
        except _Bad as exc:
            f.bad(exc.offset, exc.message, f"cs-{exc.check}")


def _decode(num: bytes) -> tuple[int | None, ...]:
    """The values of a run of complete numbers."""
    vals = tuple(
        int.from_bytes(t[1:], "big", signed=True) if t[0] == 28 else _TOKEN_VALUE.get(t)
        for t in _NUM_TOK.findall(num)
    )
    if len(_RUN_VALUES) >= _RUN_CACHE_MAX:
        _RUN_VALUES.clear()
    _RUN_VALUES[num] = vals
    return vals


def _exec(f: _Font, s: int, e: int, local: Index | None, run: _Run, depth: int, gid: int) -> bool:
    """Run the charstring raw[s:e]; True when it ended (endchar/return).

    Operators are counted locally and added to ``f.steps`` every ``_FLUSH`` operators, before
    a subroutine call and on every exit, so the step limit and the deadline hold as before.
    """
    ops = 0
    try:
        raw, cff2 = f.raw, f.cff2
        limit = 513 if cff2 else 48
        st = run.stack
        cache = _RUN_VALUES
        tokens = _CS_TOKEN.finditer
        i = s
        while i < e:  # one token stream per pass; a hintmask restarts it after its mask bytes
            for m in tokens(raw, i, e):
                num, op = m.groups()
                vals: tuple[int | None, ...] = ()
                at = i
                if num:
                    got = cache.get(num)
                    vals = got if got is not None else _decode(num)
                    if len(st) + len(vals) > limit:
                        _overflow(f, gid, i, len(st), limit, num)
                    at = i + len(num)
                if not op:  # the end of the charstring
                    st.extend(vals)
                    return False
                b = op[0]
                if b >= 32 or b == 28:
                    n = 3 if b == 28 else 1 if b <= 246 else 2 if b <= 254 else 5
                    raise _Bad(
                        at,
                        f"{_where(f, gid)}: number at 0x{at:x} needs {n} bytes, the charstring ends at 0x{e:x}",
                        "truncated",
                    )
                ops += 1  # per operator: operands are bounded by the stack limit
                if ops >= _FLUSH:
                    f.steps.tick(ops)
                    ops = 0
                i = at + len(op)
                if b in CLEARING:
                    st.clear()
                    continue
                st.extend(vals)
                if b == 12:
                    if len(op) == 1:
                        raise _Bad(
                            at,
                            f"{_where(f, gid)}: escape operator at the end (0x{at:x})",
                            "truncated",
                        )
                    x = op[1]
                    if x in FLEX:
                        st.clear()
                    elif not cff2 and x in ARITH:
                        pops, pushes = ARITH[x]
                        if len(st) < pops and run.known:
                            raise _Bad(
                                at,
                                f"{_where(f, gid)}: operator 12 {x} at 0x{at:x} needs {pops} operands, stack has {len(st)}",
                                "underflow",
                            )
                        del st[max(len(st) - pops, 0) :]
                        st.extend([None] * pushes)
                    elif not cff2 and x == 0:  # dotsection (deprecated)
                        st.clear()
                    else:
                        raise _Bad(
                            at,
                            f"{_where(f, gid)}: reserved operator 12 {x} at 0x{at:x}",
                            "reserved",
                        )
                elif b in STEMS:
                    run.stems += len(st) // 2
                    st.clear()
                elif b == 19 or b == 20:
                    run.stems += len(st) // 2
                    st.clear()
                    nbytes = (run.stems + 7) // 8
                    if run.known and i + nbytes > e:
                        raise _Bad(
                            at,
                            f"{_where(f, gid)}: hintmask at 0x{at:x} needs {nbytes} mask bytes past the end",
                            "hintmask",
                        )
                    i += nbytes
                    break  # the mask bytes are not tokens: start a new stream after them
                elif b == 10 or b == 29:
                    subrs = local if b == 10 else f.gsubrs
                    name = "callsubr" if b == 10 else "callgsubr"
                    if not st:
                        if run.known:
                            raise _Bad(
                                at,
                                f"{_where(f, gid)}: {name} at 0x{at:x} with an empty stack",
                                "underflow",
                            )
                        run.ended = True  # stack height unknown: stop checking this glyph
                        return True
                    num_ = st.pop()
                    if num_ is None:
                        run.ended = True  # computed subroutine number: not followed
                        return True
                    count = subrs.count if subrs else 0
                    bias = 107 if count < 1240 else 1131 if count < 33900 else 32768
                    k = num_ + bias
                    if subrs is None or not 0 <= k < count:
                        raise _Bad(
                            at,
                            f"{_where(f, gid)}: {name} {num_} at 0x{at:x} outside the {count} subroutines",
                            "subr-range",
                        )
                    if depth + 1 > MAX_SUBR_DEPTH:
                        raise _Bad(
                            at,
                            f"{_where(f, gid)}: subroutines nested deeper than {MAX_SUBR_DEPTH}",
                            "subr-depth",
                        )
                    f.steps.tick(ops)
                    ops = 0
                    ss, se = subrs.item(k)
                    _exec(f, ss, se, local, run, depth + 1, gid)
                    if run.ended:
                        return True
                elif b == 11 and not cff2:  # return
                    return False
                elif b == 14 and not cff2:  # endchar
                    run.ended = True
                    st.clear()
                    return True
                elif b == 15 and cff2:  # vsindex
                    v = st.pop() if st else None
                    run.vsindex = v if v is not None else -1
                    st.clear()
                elif b == 16 and cff2:  # blend
                    nb = st.pop() if st else None
                    vs = run.vsindex
                    kr = f.region_counts[vs] if 0 <= vs < len(f.region_counts) else None
                    if nb is None or kr is None:
                        run.known = False
                        st.clear()
                    else:
                        if run.known and len(st) < nb * (kr + 1):
                            raise _Bad(
                                at,
                                f"{_where(f, gid)}: blend at 0x{at:x} needs {nb * (kr + 1)} operands, stack has {len(st)}",
                                "underflow",
                            )
                        del st[max(len(st) - nb * kr, 0) :]
                else:
                    raise _Bad(
                        at, f"{_where(f, gid)}: reserved operator {b} at 0x{at:x}", "reserved"
                    )
            else:
                return False  # no token left (the stream always ends with the end token)
        return False
    finally:
        if ops:
            f.steps.tick(ops)


def _overflow(f: _Font, gid: int, i: int, base: int, limit: int, num: bytes) -> None:
    """Raise for the number of the run at ``i`` whose push took the stack above ``limit``."""
    k = max(limit - base, 0)  # 0-based in the run (base may be above already: 12 27 dup)
    at = i + sum(map(len, _NUM_TOK.findall(num)[: k + 1]))
    raise _Bad(at, f"{_where(f, gid)}: operand stack above {limit} at 0x{at:x}", "stack")


def _where(f: _Font, gid: int) -> str:
    return f"{f.tag} glyph {gid} charstring"


def _opname(op: int) -> str:
    return f"12 {op & 0xFF}" if op >= 0x0C00 else str(op)
