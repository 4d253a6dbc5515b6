"""MicroType Express (MTX) decoding: LZCOMP decompression and CTF reconstruction into an sfnt.

MTX (W3C member submission "MicroType Express (MTX) Font Format", 2008) is the compression
behind the TTEMBED_TTCOMPRESSED flag of EOT, and so of embedded fonts in .doc, .ppt (record
0x0FB8) and .pptx (``ppt/fonts/*.fntdata``). An MTX stream is a 10-byte header (version byte,
24-bit copy limit, 24-bit offsets of blocks 2 and 3) and three LZCOMP-compressed blocks:

1. the font in Compact Table Format (CTF): an sfnt whose ``glyf`` holds compact glyph records,
   whose ``loca`` is rebuilt, and whose ``cvt `` and ``hdmx`` are delta/prediction coded;
2. the values of the leading push instructions of every glyph program (255Short + hop codes);
3. the rest of every glyph program, byte for byte.

LZCOMP is an LZ77 variant: a 7168-byte preloaded dictionary, three adaptive Huffman coders
(symbols, length digits, distance digits), one-byte "DUP" copies at distances 2/4/6 and an
optional run-length pass. ``decode_mtx`` returns plain sfnt bytes (tables sorted, checksums and
``checkSumAdjustment`` recomputed), so the result goes through the same font analysis as any
TrueType font.

Hostile input: every read is bounds-checked; the declared sizes, the decompressed size, the
ratio to the compressed size, the glyph count and the time are limited (``Budget``/``DocLimits``);
every malformed stream raises ``InputError`` naming the block and byte. The compressed VDMX
format is not supported (``InputError`` "not supported"); it is rare in embedded fonts.
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_left
from dataclasses import dataclass

from duqhunt.errors import InputError
from duqhunt.sources.office.limits import Budget, DocLimits

PRELOAD_SIZE = 2 * 32 * 96 + 4 * 256  # 7168 bytes of preloaded dictionary
MTX_VERSIONS = (1, 2, 3)
RATIO_FLOOR = 1 << 20  # the ratio limit applies once a block decodes to more than this
MAX_TABLES = 256
_ROOT = 1
_SYMBOL_CHECK = 4096  # symbols between deadline checks


class _Eof(Exception):
    """Internal: the bit reader ran out of input (turned into InputError by the caller)."""


class _Bad(Exception):
    """Internal: a structural problem inside a block (turned into InputError by the caller)."""

    def __init__(self, reason: str, pos: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


# ---- LZCOMP ------------------------------------------------------------------------------


class _Bits:
    """MSB-first bit reader over one compressed block."""

    __slots__ = ("data", "nbits", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.nbits = len(data) * 8
        self.pos = 0

    def bit(self) -> int:
        p = self.pos
        if p >= self.nbits:
            raise _Eof
        self.pos = p + 1
        return (self.data[p >> 3] >> (7 - (p & 7))) & 1

    def value(self, n: int) -> int:
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bit()
        return v


class _AdaptiveHuffman:
    """The LZCOMP adaptive Huffman coder over ``n`` symbols.

    Nodes live in one array indexed from 1 (the root); node ``i`` has children ``2i`` and
    ``2i+1`` at start and the leaves are ``n..2n-1``. Weights never increase with the index
    (sibling property), so the first node of a run of equal weights is found by bisection on the
    negated weights. Encoder and decoder update the tree the same way after every symbol.
    """

    __slots__ = ("code", "index", "left", "negw", "right", "up")

    def __init__(self, n: int) -> None:
        size = 2 * n
        self.up = [i // 2 for i in range(size)]
        self.left = [0] * size
        self.right = [0] * size
        self.code = [-1] * size
        self.index = [n + i for i in range(n)]
        for i in range(1, n):
            self.left[i] = 2 * i
            self.right[i] = 2 * i + 1
        for i in range(n):
            self.code[n + i] = i
        w = [0] * size
        for i in range(n, size):
            w[i] = 1
        for i in range(n - 1, 0, -1):
            w[i] = w[2 * i] + w[2 * i + 1]
        w[0] = 1 << 62  # sentinel, never read as a node
        self.negw = [-x for x in w]
        if 256 < n < 512:
            self.update(self.index[256])
            self.update(self.index[257])
            for _ in range(12):
                self.update(self.index[n - 3])
            for _ in range(6):
                self.update(self.index[n - 2])
        else:
            for _ in range(2):
                for s in range(n):
                    self.update(self.index[s])

    def _swap(self, a: int, b: int) -> None:
        left, right, code = self.left, self.right, self.code
        left[a], left[b] = left[b], left[a]
        right[a], right[b] = right[b], right[a]
        code[a], code[b] = code[b], code[a]
        for x in (a, b):
            c = code[x]
            if c < 0:
                self.up[left[x]] = x
                self.up[right[x]] = x
            else:
                self.index[c] = x

    def update(self, a: int) -> None:
        negw, up = self.negw, self.up
        while a != _ROOT:
            nw = negw[a]
            if negw[a - 1] == nw:
                b = bisect_left(negw, nw, _ROOT, a)
                if b > _ROOT:
                    self._swap(a, b)
                    a = b
            negw[a] = nw - 1
            a = up[a]
        negw[_ROOT] -= 1

    def path(self, symbol: int) -> list[int]:
        """Bits from the root to ``symbol`` (used by the test-side encoder)."""
        a = self.index[symbol]
        out: list[int] = []
        while a != _ROOT:
            u = self.up[a]
            out.append(1 if self.right[u] == a else 0)
            a = u
        out.reverse()
        return out

    def read(self, bits: _Bits) -> int:
        left, right, code = self.left, self.right, self.code
        a = _ROOT
        while True:
            a = right[a] if bits.bit() else left[a]
            c = code[a]
            if c >= 0:
                break
        self.update(a)
        return c


def preload() -> bytearray:
    """The dictionary LZCOMP starts from: (k, j) pairs for k<32, j<96, then each byte 4 times."""
    out = bytearray()
    for k in range(32):
        for j in range(96):
            out += bytes((k, j))
    for j in range(256):
        out += bytes((j,)) * 4
    return out


def dist_ranges(out_len: int) -> int:
    """How many 3-bit distance digits the symbol alphabet provides for ``out_len`` bytes."""
    n = 1
    while (1 << (3 * n)) < out_len:
        n += 1
    return n


def _unrun(data: memoryview, limit: int) -> bytes:
    """Undo the LZCOMP run-length pass: first byte is the escape; ESC 0 = ESC; ESC n b = n x b."""
    if not data:
        return b""
    esc = data[0]
    out = bytearray()
    i, n = 1, len(data)
    while i < n:
        c = data[i]
        if c != esc:
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise _Bad("run-length escape at the end of the block", i)
        count = data[i + 1]
        if count == 0:
            out.append(esc)
            i += 2
            continue
        if i + 2 >= n:
            raise _Bad("run-length run without its byte", i)
        out += bytes((data[i + 2],)) * count
        i += 3
        if len(out) > limit:
            raise _Bad(f"run-length output exceeds {limit} bytes", i)
    return bytes(out)


def lzcomp_decompress(
    data: bytes, version: int, *, limit: int, budget: Budget, where: str
) -> bytes:
    """Decompress one LZCOMP block; ``_Bad``/``_Eof`` on malformed data (callers wrap them)."""
    bits = _Bits(data)
    use_rle = bits.bit() if version != 1 else 0
    dist_h = _AdaptiveHuffman(8)
    len_h = _AdaptiveHuffman(8)
    out_len = bits.value(24)
    if out_len > limit:
        raise _Bad(f"declared size {out_len} exceeds the limit of {limit} bytes", 1)
    ndr = dist_ranges(out_len)
    dup2 = 256 + 8 * ndr
    sym_h = _AdaptiveHuffman(dup2 + 3)
    buf = preload()
    end = PRELOAD_SIZE + out_len
    count = 0
    while len(buf) < end:
        count += 1
        if count % _SYMBOL_CHECK == 0:
            budget.check_time(where)
        s = sym_h.read(bits)
        if s < 256:
            buf.append(s)
        elif s >= dup2:
            buf.append(buf[-2 * (s - dup2 + 1)])
        else:
            digit = s - 256
            nd = digit // 8 + 1
            digit %= 8
            value = 0
            while True:
                value = (value << 2) | (digit & 3)
                if not digit & 4:
                    break
                if value > out_len:
                    raise _Bad("copy length larger than the block", bits.pos // 8)
                digit = len_h.read(bits)
            length = value + 2
            distance = 0
            for _ in range(nd):
                distance = (distance << 3) | dist_h.read(bits)
            distance += 1
            if distance >= 512:
                length += 1
            cur = len(buf)
            start = cur - distance - length + 1
            if start < 0:
                raise _Bad(f"copy distance {distance} reaches before the dictionary", bits.pos // 8)
            if cur + length > end:
                raise _Bad("copy runs past the declared size", bits.pos // 8)
            buf += buf[start : start + length]
    body = memoryview(buf)[PRELOAD_SIZE:]
    if use_rle:
        return _unrun(body, limit)
    return bytes(body)


# ---- MTX container -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MtxBlocks:
    version: int
    copy_limit: int
    offsets: tuple[int, int, int]
    blocks: tuple[bytes, bytes, bytes]


def unpack_mtx(data: bytes, path: str, where: str, *, offset: int, budget: Budget) -> MtxBlocks:
    """Split the MTX container and decompress its three blocks."""
    lim = budget.limits
    if len(data) < 10:
        raise InputError(path, f"{where}: MTX header truncated", offset=offset)
    version = data[0]
    if version not in MTX_VERSIONS:
        raise InputError(
            path, f"{where}: MTX version {version} not supported (known: 1, 2, 3)", offset=offset
        )
    copy_limit = int.from_bytes(data[1:4], "big")
    o2 = int.from_bytes(data[4:7], "big")
    o3 = int.from_bytes(data[7:10], "big")
    if not 10 <= o2 <= o3 <= len(data):
        raise InputError(
            path,
            f"{where}: MTX block offsets {o2}/{o3} impossible for {len(data)} bytes",
            offset=offset + 4,
        )
    offs = (10, o2, o3)
    ends = (o2, o3, len(data))
    out: list[bytes] = []
    total = 0
    for k in range(3):
        bwhere = f"{where}, MTX block {k + 1}"
        raw = data[offs[k] : ends[k]]
        if not raw:
            out.append(b"")
            continue
        try:
            block = lzcomp_decompress(
                raw, version, limit=lim.max_member_bytes, budget=budget, where=bwhere
            )
        except _Eof:
            raise InputError(
                path, f"{bwhere}: LZCOMP data ends early", offset=offset + ends[k]
            ) from None
        except _Bad as exc:
            at = offset + offs[k] + (exc.pos or 0)
            raise InputError(path, f"{bwhere}: LZCOMP {exc.reason}", offset=at) from None
        total += len(block)
        if total > RATIO_FLOOR and total > lim.max_ratio * len(data):
            raise InputError(
                path,
                f"{bwhere}: decompression ratio above {lim.max_ratio} ({total} from {len(data)} bytes)",
                offset=offset + offs[k],
            )
        budget.take(len(block), bwhere)
        out.append(block)
    return MtxBlocks(version, copy_limit, offs, (out[0], out[1], out[2]))


# ---- CTF ---------------------------------------------------------------------------------


class _Reader:
    """Big-endian reader over one decompressed block; ``_Bad`` past the end."""

    __slots__ = ("data", "name", "pos")

    def __init__(self, data: bytes, name: str, pos: int = 0) -> None:
        self.data = data
        self.name = name
        self.pos = pos

    def take(self, n: int) -> bytes:
        p = self.pos
        if n < 0 or p + n > len(self.data):
            raise _Bad(f"{self.name} runs out at byte {p} (needs {n} more)", p)
        self.pos = p + n
        return self.data[p : p + n]

    def u8(self) -> int:
        p = self.pos
        if p >= len(self.data):
            raise _Bad(f"{self.name} runs out at byte {p}", p)
        self.pos = p + 1
        return self.data[p]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def s16(self) -> int:
        return int.from_bytes(self.take(2), "big", signed=True)

    def u255(self) -> int:
        """255UShort."""
        c = self.u8()
        if c == 253:
            return self.u16()
        if c == 255:
            return 253 + self.u8()
        if c == 254:
            return 506 + self.u8()
        return c

    def s255(self) -> int:
        """255Short (250 = negate, 253 = word, 254/255 = 500+/250+)."""
        c = self.u8()
        if c == 253:
            return self.s16()
        sign = 1
        if c == 250:
            sign = -1
            c = self.u8()
        if c == 255:
            v = 250 + self.u8()
        elif c == 254:
            v = 500 + self.u8()
        else:
            v = c
        return sign * v


def _triplets() -> list[tuple[int, int, int, int, int, int, int]]:
    """(bytes, xbits, ybits, dx, dy, xsign, ysign) for the 128 triplet flags (spec 5.11)."""
    t: list[tuple[int, int, int, int, int, int, int]] = []
    for i in range(10):
        t.append((1, 0, 8, 0, (i // 2) * 256, 0, 1 if i % 2 else -1))
    for i in range(10):
        t.append((1, 8, 0, (i // 2) * 256, 0, 1 if i % 2 else -1, 0))
    signs = ((-1, -1), (1, -1), (-1, 1), (1, 1))
    for i in range(64):
        xs, ys = signs[i % 4]
        t.append((1, 4, 4, 1 + 16 * (i // 16), 1 + 16 * ((i % 16) // 4), xs, ys))
    for i in range(36):
        xs, ys = signs[i % 4]
        t.append((2, 8, 8, 1 + 256 * (i // 12), 1 + 256 * ((i % 12) // 4), xs, ys))
    for i in range(4):
        xs, ys = signs[i]
        t.append((3, 12, 12, 0, 0, xs, ys))
    for i in range(4):
        xs, ys = signs[i]
        t.append((4, 16, 16, 0, 0, xs, ys))
    return t


TRIPLETS = _triplets()


def _push_program(values: list[int]) -> bytes:
    """TrueType push instructions for ``values``: runs of bytes/words, PUSHB/PUSHW up to 8,
    NPUSHB/NPUSHW up to 255."""
    out = bytearray()
    i, n = 0, len(values)
    while i < n:
        word = not 0 <= values[i] <= 255
        j = i
        while j < n and j - i < 255 and (not 0 <= values[j] <= 255) == word:
            j += 1
        run = values[i:j]
        k = len(run)
        if k <= 8:
            out.append((0xB8 if word else 0xB0) + k - 1)
        else:
            out += bytes((0x41 if word else 0x40, k))
        for v in run:
            out += struct.pack(">h", v) if word else bytes((v,))
        i = j
    return bytes(out)


class _GlyphDecoder:
    def __init__(self, glyf: _Reader, push: _Reader, code: _Reader) -> None:
        self.glyf = glyf
        self.push = push
        self.code = code

    def _push_values(self, count: int) -> list[int]:
        vals: list[int] = []
        rd = self.push
        while len(vals) < count:
            c = rd.data[rd.pos] if rd.pos < len(rd.data) else -1
            if c in (251, 252):
                need = 3 if c == 251 else 5
                if count - len(vals) < need or len(vals) < 2:
                    raise _Bad("push data hop code without room or history", rd.pos)
                rd.pos += 1
                a = vals[-2]
                vals += [a, rd.s255(), a]
                if c == 252:
                    vals += [rd.s255(), a]
            else:
                vals.append(rd.s255())
        return vals

    def _instructions(self) -> bytes:
        pushes = self.glyf.u255()
        size = self.glyf.u255()
        prog = _push_program(self._push_values(pushes)) + self.code.take(size)
        if len(prog) > 0xFFFF:
            raise _Bad(f"glyph program of {len(prog)} bytes", self.glyf.pos)
        return struct.pack(">H", len(prog)) + prog

    def glyph(self, max_points: int) -> bytes:
        g = self.glyf
        n = g.s16()
        if n < 0:
            return self._composite()
        explicit: tuple[int, int, int, int] | None = None
        if n == 0x7FFF:
            n = g.s16()
            explicit = (g.s16(), g.s16(), g.s16(), g.s16())
            if n < 0:
                raise _Bad("negative contour count after the bounding-box escape", g.pos)
        if n == 0:
            return b""
        ends: list[int] = []
        total = 0
        for i in range(n):
            k = g.u255()
            total += k + (1 if i == 0 else 0)
            if total > max_points:
                raise _Bad(f"glyph with more than {max_points} points", g.pos)
            ends.append(total - 1)
        flags = g.take(total)
        xs: list[int] = []
        ys: list[int] = []
        x = y = 0
        for f in flags:
            nb, xb, yb, dx0, dy0, xsg, ysg = TRIPLETS[f & 0x7F]
            raw = int.from_bytes(g.take(nb), "big")
            dx = raw >> yb if xb else 0
            dy = raw & ((1 << yb) - 1) if yb else 0
            x = _i16(x + xsg * (dx + dx0))  # coordinates wrap at 16 bits, as in TrueType
            y = _i16(y + ysg * (dy + dy0))
            xs.append(x)
            ys.append(y)
        bbox = explicit or (min(xs), min(ys), max(xs), max(ys))
        out = bytearray(struct.pack(">hhhhh", n, *bbox))
        out += struct.pack(f">{n}H", *ends)
        out += self._instructions()
        out += _encode_points(flags, xs, ys)
        return bytes(out)

    def _composite(self) -> bytes:
        g = self.glyf
        out = bytearray(struct.pack(">h", -1) + g.take(8))
        more = True
        flags = 0
        count = 0
        while more:
            count += 1
            if count > 0xFFFF:
                raise _Bad("composite glyph with too many components", g.pos)
            flags = g.u16()
            size = 2 + (4 if flags & 0x0001 else 2)
            if flags & 0x0080:
                size += 8
            elif flags & 0x0040:
                size += 4
            elif flags & 0x0008:
                size += 2
            out += struct.pack(">H", flags) + g.take(size)
            more = bool(flags & 0x0020)
        if flags & 0x0100:
            out += self._instructions()
        return bytes(out)


def _i16(v: int) -> int:
    return ((v + 0x8000) & 0xFFFF) - 0x8000


def _encode_points(flags: bytes, xs: list[int], ys: list[int]) -> bytes:
    """TrueType flags (with repeats) and delta coordinates for absolute points."""
    fl = bytearray()
    xb = bytearray()
    yb = bytearray()
    px = py = 0
    for f, x, y in zip(flags, xs, ys, strict=True):
        flag = 0 if f & 0x80 else 0x01
        dx, dy = _i16(x - px), _i16(y - py)
        px, py = x, y
        if dx == 0:
            flag |= 0x10
        elif -255 <= dx <= 255:
            flag |= 0x02 | (0x10 if dx > 0 else 0)
            xb.append(abs(dx))
        else:
            xb += struct.pack(">h", dx)
        if dy == 0:
            flag |= 0x20
        elif -255 <= dy <= 255:
            flag |= 0x04 | (0x20 if dy > 0 else 0)
            yb.append(abs(dy))
        else:
            yb += struct.pack(">h", dy)
        fl.append(flag)
    packed = bytearray()
    i = 0
    while i < len(fl):
        j = i + 1
        while j < len(fl) and fl[j] == fl[i] and j - i < 256:
            j += 1
        run = j - i
        if run > 2:
            packed += bytes((fl[i] | 0x08, run - 1))
        else:
            packed += fl[i:j]
        i = j
    return bytes(packed + xb + yb)


def _cvt(rd: _Reader) -> bytes:
    n = rd.u16()
    out = bytearray()
    last = 0
    for _ in range(n):
        c = rd.u8()
        if c >= 248:
            d = 238 * (c - 247) + rd.u8()
        elif c >= 239:
            d = -(238 * (c - 239) + rd.u8())
        elif c == 238:
            d = rd.s16()
        else:
            d = c
        last = _i16(last + d)
        out += struct.pack(">h", last)
    return bytes(out)


def _hdmx(rd: _Reader, num_glyphs: int, advances: list[int], upem: int, max_bytes: int) -> bytes:
    version = rd.u16()
    nrec = rd.u16()
    rsize = int.from_bytes(rd.take(4), "big")
    if rsize < 2 + num_glyphs or rsize > 2 + num_glyphs + 8:
        raise _Bad(f"hdmx record size {rsize} does not fit {num_glyphs} glyphs", rd.pos)
    if nrec * rsize > max_bytes:
        raise _Bad(f"hdmx of {nrec} records of {rsize} bytes exceeds {max_bytes} bytes", rd.pos)
    heads = [(rd.u8(), rd.u8()) for _ in range(nrec)]
    if upem <= 0:
        raise _Bad("hdmx needs a positive unitsPerEm", rd.pos)
    data, bitpos = rd.data, rd.pos * 8
    nbits = len(data) * 8

    def bit() -> int:
        nonlocal bitpos
        if bitpos >= nbits:
            raise _Bad("hdmx width data runs out", bitpos // 8)
        b = (data[bitpos >> 3] >> (bitpos & 7)) & 1  # LSB first, as written by encoders
        bitpos += 1
        return b

    out = bytearray(struct.pack(">HHI", version, nrec, rsize))
    for ppem, maxw in heads:
        rec = bytearray((ppem, maxw))
        for j in range(num_glyphs):
            mag = 0
            while bit():
                mag += 1
                if mag > 512:
                    raise _Bad("hdmx width surprise out of range", bitpos // 8)
            surprise = (-mag if bit() else mag) if mag else 0
            aw = advances[min(j, len(advances) - 1)] if advances else 0
            predicted = ((64 * ppem * aw + upem // 2) // upem + 32) // 64
            w = predicted + surprise
            if not 0 <= w <= 255:
                raise _Bad(f"hdmx width {w} for glyph {j} out of range", bitpos // 8)
            rec.append(w)
        rec += bytes(rsize - len(rec))
        out += rec
    return bytes(out)


def _checksum(data: bytes) -> int:
    padded = data + bytes(-len(data) % 4)
    words: tuple[int, ...] = struct.unpack(f">{len(padded) // 4}I", padded)
    return sum(words) & 0xFFFFFFFF


def build_sfnt(version: int, tables: dict[str, bytes]) -> bytes:
    """An sfnt with ``tables`` sorted by tag, 4-byte aligned, checksums and head adjustment set."""
    tags = sorted(tables)
    n = len(tags)
    es = max(n.bit_length() - 1, 0)
    sr = (1 << es) * 16
    head = bytearray(struct.pack(">IHHHH", version, n, sr, es, n * 16 - sr))
    body = bytearray()
    off = 12 + 16 * n
    if "head" in tables and len(tables["head"]) >= 12:
        h = bytearray(tables["head"])
        h[8:12] = bytes(4)
        tables = {**tables, "head": bytes(h)}
    for tag in tags:
        data = tables[tag]
        head += tag.encode("latin-1") + struct.pack(
            ">III", _checksum(data), off + len(body), len(data)
        )
        body += data + bytes(-len(data) % 4)
    font = bytearray(head + body)
    if "head" in tables and len(tables["head"]) >= 12:
        hoff = struct.unpack_from(">I", font, 12 + 16 * tags.index("head") + 8)[0]
        struct.pack_into(">I", font, hoff + 8, (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF)
    return bytes(font)


def ctf_to_sfnt(blocks: MtxBlocks, path: str, where: str, *, offset: int, budget: Budget) -> bytes:
    """Rebuild an sfnt from the three decompressed MTX blocks."""
    b1, b2, b3 = blocks.blocks
    lim: DocLimits = budget.limits
    ctf = _Reader(b1, "CTF font (block 1)")
    try:
        return _ctf(ctf, b2, b3, budget, lim, where)
    except _Bad as exc:
        at = f" at decompressed byte {exc.pos}" if exc.pos is not None else ""
        raise InputError(path, f"{where}: MTX {exc.reason}{at}", offset=offset) from None


def _ctf(ctf: _Reader, b2: bytes, b3: bytes, budget: Budget, lim: DocLimits, where: str) -> bytes:
    version = int.from_bytes(ctf.take(4), "big")
    num = ctf.u16()
    ctf.take(6)
    if num > MAX_TABLES:
        raise _Bad(f"CTF declares {num} tables", 4)
    recs: dict[str, tuple[int, int]] = {}
    for _ in range(num):
        tag = ctf.take(4).decode("latin-1")
        _cs, off, length = struct.unpack(">III", ctf.take(12))
        if tag in recs:
            raise _Bad(f"CTF table {tag!r} listed twice", ctf.pos - 16)
        recs[tag] = (off, length)
    data = ctf.data

    def raw(tag: str) -> bytes:
        off, length = recs[tag]
        if off + length > len(data):
            raise _Bad(f"CTF table {tag!r} ({length} bytes at {off}) runs past block 1", off)
        return data[off : off + length]

    if "VDMX" in recs:
        raise _Bad("compressed VDMX table not supported")
    tables: dict[str, bytes] = {}
    for tag in recs:
        if tag not in ("glyf", "loca", "cvt ", "hdmx"):
            tables[tag] = raw(tag)
    if "cvt " in recs:
        tables["cvt "] = _cvt(_Reader(data, "CTF cvt", recs["cvt "][0]))
    if "glyf" in recs or "hdmx" in recs:
        if "maxp" not in tables or len(tables["maxp"]) < 6:
            raise _Bad("CTF font without a usable maxp table")
        num_glyphs = struct.unpack_from(">H", tables["maxp"], 4)[0]
        if num_glyphs > lim.max_glyphs:
            raise _Bad(f"maxp declares {num_glyphs} glyphs (limit {lim.max_glyphs})")
        if "head" not in tables or len(tables["head"]) < 54:
            raise _Bad("CTF font without a usable head table")
    if "glyf" in recs:
        loc_fmt = struct.unpack_from(">h", tables["head"], 50)[0]
        if loc_fmt not in (0, 1):
            raise _Bad(f"head indexToLocFormat {loc_fmt}")
        gd = _GlyphDecoder(
            _Reader(data, "CTF glyf", recs["glyf"][0]),
            _Reader(b2, "push data (block 2)"),
            _Reader(b3, "glyph code (block 3)"),
        )
        glyf = bytearray()
        offs = [0]
        for gid in range(num_glyphs):
            if gid % 256 == 0:
                budget.check_time(f"{where}, MTX glyph {gid}")
            try:
                glyf += gd.glyph(0xFFFF)
            except _Bad as exc:
                raise _Bad(f"glyph {gid}: {exc.reason}", exc.pos) from None
            if len(glyf) % 2:
                glyf.append(0)
            if len(glyf) > lim.max_member_bytes:
                raise _Bad(f"rebuilt glyf exceeds {lim.max_member_bytes} bytes")
            offs.append(len(glyf))
        if loc_fmt == 0:
            if offs[-1] > 0x1FFFE:
                raise _Bad("rebuilt glyf too large for a short loca")
            loca = struct.pack(f">{len(offs)}H", *(o // 2 for o in offs))
        else:
            loca = struct.pack(f">{len(offs)}I", *offs)
        tables["glyf"] = bytes(glyf)
        tables["loca"] = loca
    elif "loca" in recs:
        tables["loca"] = raw("loca")
    if "hdmx" in recs:
        upem = struct.unpack_from(">H", tables["head"], 18)[0]
        hhea, hmtx = tables.get("hhea", b""), tables.get("hmtx", b"")
        if len(hhea) < 36:
            raise _Bad("hdmx needs a usable hhea table")
        nhm = struct.unpack_from(">H", hhea, 34)[0]
        if len(hmtx) < 4 * nhm:
            raise _Bad("hdmx needs a complete hmtx table")
        advances = [struct.unpack_from(">H", hmtx, 4 * i)[0] for i in range(nhm)]
        tables["hdmx"] = _hdmx(
            _Reader(data, "CTF hdmx", recs["hdmx"][0]),
            num_glyphs,
            advances,
            upem,
            lim.max_member_bytes,
        )
    return build_sfnt(version, tables)


_CACHE: dict[bytes, bytes] = {}
_CACHE_ENTRIES = 4


def decode_mtx(
    data: bytes, path: str, where: str, *, offset: int = 0, budget: Budget | None = None
) -> bytes:
    """MTX-compressed font data -> sfnt bytes. ``offset`` is where ``data`` starts in the file
    (for error positions). Raises ``InputError`` on any malformed or unsupported stream.

    The last few successful decodes are kept (keyed by content hash), so a caller that decodes
    once under the file's budget (the document walker, to name the font "MTX-decoded") and the
    font analysis that decodes again do the work once.
    """
    key = hashlib.sha256(data).digest()
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    if budget is None:
        from duqhunt.sources.office.limits import builtin_content

        budget = Budget(path, builtin_content().limits)
    blocks = unpack_mtx(data, path, where, offset=offset, budget=budget)
    sfnt = ctf_to_sfnt(blocks, path, where, offset=offset, budget=budget)
    budget.take(len(sfnt), f"{where}, MTX-decoded font")
    while len(_CACHE) >= _CACHE_ENTRIES:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = sfnt
    return sfnt
