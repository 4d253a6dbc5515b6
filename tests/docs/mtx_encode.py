"""A small test-side MicroType Express encoder (LZCOMP + CTF), written from the format description.

Only for tests: no real MTX encoder is available, so fixtures are compressed here and decoded by
duqhunt.sources.office.mtx. The adaptive Huffman coder is implemented again here (linear scans,
no bisection) so that encoder and decoder do not share the tree code.
"""

from __future__ import annotations

import struct

from fontTools.ttLib import TTFont

PRELOAD = 7168


class BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def bit(self, b: int) -> None:
        self.acc = (self.acc << 1) | (b & 1)
        self.n += 1
        if self.n == 8:
            self.out.append(self.acc)
            self.acc = 0
            self.n = 0

    def value(self, v: int, nbits: int) -> None:
        for i in range(nbits - 1, -1, -1):
            self.bit((v >> i) & 1)

    def done(self) -> bytes:
        while self.n:
            self.bit(0)
        return bytes(self.out)


class Huff:
    """Adaptive Huffman encoder: same tree rules as the format, plain linear searches."""

    def __init__(self, n: int) -> None:
        self.n = n
        size = 2 * n
        self.up = [i // 2 for i in range(size)]
        self.kids: list[tuple[int, int] | None] = [None] * size
        self.sym = [-1] * size
        self.where = [0] * n
        for i in range(1, n):
            self.kids[i] = (2 * i, 2 * i + 1)
        for i in range(n):
            self.sym[n + i] = i
            self.where[i] = n + i
        self.w = [0] * size
        for i in range(size - 1, 0, -1):
            k = self.kids[i]
            self.w[i] = 1 if k is None else self.w[k[0]] + self.w[k[1]]
        if 256 < n < 512:
            for s in [256, 257] + [n - 3] * 12 + [n - 2] * 6:
                self.bump(self.where[s])
        else:
            for _ in range(2):
                for s in range(n):
                    self.bump(self.where[s])

    def bump(self, a: int) -> None:
        while a != 1:
            wa = self.w[a]
            b = a
            while self.w[b - 1] == wa:
                b -= 1
            if b != a and b > 1:
                self.kids[a], self.kids[b] = self.kids[b], self.kids[a]
                self.sym[a], self.sym[b] = self.sym[b], self.sym[a]
                for x in (a, b):
                    k = self.kids[x]
                    if k is None:
                        self.where[self.sym[x]] = x
                    else:
                        self.up[k[0]] = x
                        self.up[k[1]] = x
                a = b
            self.w[a] += 1
            a = self.up[a]
        self.w[1] += 1

    def put(self, bw: BitWriter, s: int) -> None:
        a = self.where[s]
        path: list[int] = []
        while a != 1:
            u = self.up[a]
            k = self.kids[u]
            assert k is not None
            path.append(1 if k[1] == a else 0)
            a = u
        for b in reversed(path):
            bw.bit(b)
        self.bump(self.where[s])


def _preload() -> bytes:
    out = bytearray()
    for k in range(32):
        for j in range(96):
            out += bytes((k, j))
    for j in range(256):
        out += bytes((j,)) * 4
    return bytes(out)


def _rle(data: bytes) -> bytes:
    counts = [0] * 256
    for b in data:
        counts[b] += 1
    esc = counts.index(min(counts))
    out = bytearray((esc,))
    i = 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i] and j - i < 255:
            j += 1
        if j - i >= 4:
            out += bytes((esc, j - i, data[i]))
            i = j
        elif data[i] == esc:
            out += bytes((esc, 0))
            i += 1
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def lzcomp(data: bytes, *, rle: bool = False, version: int = 3, matches: bool = True) -> bytes:
    """LZCOMP-compress ``data``: greedy back-references (into the preload too), DUP copies,
    literals; optional run-length pass first."""
    body = _rle(data) if rle else data
    bw = BitWriter()
    if version != 1:
        bw.bit(1 if rle else 0)
    dist_h, len_h = Huff(8), Huff(8)
    bw.value(len(body), 24)
    ndr = 1
    while (1 << (3 * ndr)) < len(body):
        ndr += 1
    dup2 = 256 + 8 * ndr
    sym_h = Huff(dup2 + 3)
    buf = _preload() + body
    pos = PRELOAD
    index: dict[bytes, list[int]] = {}
    for i in range(PRELOAD - 2):
        index.setdefault(buf[i : i + 3], []).append(i)
    end = len(buf)
    max_dist = (1 << (3 * ndr)) - 1
    while pos < end:
        best_len, best_dist = 0, 0
        if matches:
            for cand in reversed(index.get(buf[pos : pos + 3], [])[-64:]):
                n = 0
                while pos + n < end and buf[cand + n] == buf[pos + n] and cand + n < pos:
                    n += 1
                dist = pos - cand - n + 1  # distance counts from the end of the copy
                if n < 2 or dist < 1 or dist > max_dist or (dist >= 512 and n < 3):
                    continue
                if n > best_len:
                    best_len, best_dist = n, dist
        if best_len:
            length, dist = best_len, best_dist
            val = length - (3 if dist >= 512 else 2)
            nd = max(1, -(-(dist - 1).bit_length() // 3))
            groups = max(1, -(-val.bit_length() // 2))
            digits = [(val >> (2 * g)) & 3 for g in range(groups - 1, -1, -1)]
            first = digits[0] | (4 if groups > 1 else 0)
            sym_h.put(bw, 256 + first + (nd - 1) * 8)
            for k, d in enumerate(digits[1:], start=2):
                len_h.put(bw, d | (4 if k < groups else 0))
            for g in range(nd - 1, -1, -1):
                dist_h.put(bw, ((dist - 1) >> (3 * g)) & 7)
            step = length
        else:
            c = buf[pos]
            for k, off in enumerate((2, 4, 6)):
                if buf[pos - off] == c and pos % 3 == 0:  # use DUP items now and then
                    sym_h.put(bw, dup2 + k)
                    break
            else:
                sym_h.put(bw, c)
            step = 1
        for i in range(pos, pos + step):
            if i >= 2:
                index.setdefault(buf[i - 2 : i + 1], []).append(i - 2)
        pos += step
    return bw.done()


# ---- CTF ---------------------------------------------------------------------------------


def u255(v: int) -> bytes:
    if v < 253:
        return bytes((v,))
    if v < 506:
        return bytes((255, v - 253))
    if v < 762:
        return bytes((254, v - 506))
    return bytes((253,)) + struct.pack(">H", v)


def s255(v: int) -> bytes:
    if v >= 750 or v <= -750:
        return bytes((253,)) + struct.pack(">h", v)
    out = bytearray()
    if v < 0:
        out.append(250)
        v = -v
    if v >= 500:
        out += bytes((254, v - 500))
    elif v >= 250:
        out += bytes((255, v - 250))
    else:
        out.append(v)
    return bytes(out)


def triplet(on: bool, dx: int, dy: int) -> tuple[int, bytes]:
    ax, ay = abs(dx), abs(dy)
    oc = 0 if on else 128
    xs, ys = (0 if dx < 0 else 1), (0 if dy < 0 else 1)
    sb = xs + 2 * ys
    if dx == 0 and ay < 1280:
        return oc + ((ay >> 8) << 1) + ys, bytes((ay & 0xFF,))
    if dy == 0 and ax < 1280:
        return oc + 10 + ((ax >> 8) << 1) + xs, bytes((ax & 0xFF,))
    if 0 < ax < 65 and 0 < ay < 65:
        return oc + 20 + ((ax - 1) & 0x30) + (((ay - 1) & 0x30) >> 2) + sb, bytes(
            ((((ax - 1) & 15) << 4) | ((ay - 1) & 15),)
        )
    if 0 < ax < 769 and 0 < ay < 769:
        f = oc + 84 + 12 * ((ax - 1) >> 8) + (((ay - 1) >> 8) << 2) + sb
        return f, bytes(((ax - 1) & 0xFF, (ay - 1) & 0xFF))
    if ax < 4096 and ay < 4096:
        return oc + 120 + sb, bytes((ax >> 4, ((ax & 15) << 4) | (ay >> 8), ay & 0xFF))
    return oc + 124 + sb, struct.pack(">HH", ax, ay)


def split_push(code: bytes) -> tuple[list[int], bytes]:
    """Leading push instructions -> values; the rest of the program stays as code."""
    vals: list[int] = []
    i = 0
    while i < len(code):
        op = code[i]
        if op in (0x40, 0x41):
            if i + 1 >= len(code):
                break
            n, size, ix = code[i + 1], 2 if op == 0x41 else 1, i + 2
        elif 0xB0 <= op <= 0xBF:
            n, size, ix = (op & 7) + 1, 2 if op & 8 else 1, i + 1
        else:
            break
        if ix + n * size > len(code):
            break
        for k in range(n):
            p = ix + k * size
            vals.append(struct.unpack_from(">h", code, p)[0] if size == 2 else code[p])
        i = ix + n * size
    return vals, code[i:]


def push_stream(vals: list[int]) -> bytes:
    """255Short values with hop codes 251 (A B A C A) and 252 (A B A C A D A)."""
    out = bytearray()
    i, n = 0, len(vals)
    while i < n:
        v = vals[i]
        if i >= 2 and i + 4 < n and vals[i - 2] == v == vals[i + 2] == vals[i + 4]:
            out += bytes((252,)) + s255(vals[i + 1]) + s255(vals[i + 3])
            i += 5
        elif i >= 2 and i + 2 < n and vals[i - 2] == v == vals[i + 2]:
            out += bytes((251,)) + s255(vals[i + 1])
            i += 3
        else:
            out += s255(v)
            i += 1
    return bytes(out)


def _instr(code: bytes, g: bytearray, p: bytearray, c: bytearray) -> None:
    vals, rest = split_push(code)
    g += u255(len(vals)) + u255(len(rest))
    p += push_stream(vals)
    c += rest


def ctf_glyph(raw: bytes, g: bytearray, p: bytearray, c: bytearray, *, bbox: bool) -> None:
    if not raw:
        g += struct.pack(">h", 0)
        return
    n = struct.unpack_from(">h", raw, 0)[0]
    if n < 0:
        g += raw[:10]
        i = 10
        while True:
            flags = struct.unpack_from(">H", raw, i)[0]
            size = 4 + (4 if flags & 1 else 2)
            size += 8 if flags & 0x80 else 4 if flags & 0x40 else 2 if flags & 8 else 0
            g += raw[i : i + size]
            i += size
            if not flags & 0x20:
                break
        if flags & 0x100:
            ln = struct.unpack_from(">H", raw, i)[0]
            _instr(raw[i + 2 : i + 2 + ln], g, p, c)
        return
    from fontTools.ttLib.tables._g_l_y_f import Glyph

    gl = Glyph(raw)
    gl.expand(None)  # type: ignore[arg-type]
    if bbox:
        g += struct.pack(">hhhhhh", 0x7FFF, n, gl.xMin, gl.yMin, gl.xMax, gl.yMax)
    else:
        g += struct.pack(">h", n)
    prev = 0
    for k, e in enumerate(gl.endPtsOfContours):
        g += u255(e if k == 0 else e - prev)  # first: last point index; then point counts
        prev = e
    flags = bytearray()
    coords = bytearray()
    lx = ly = 0
    for (x, y), f in zip(gl.coordinates, gl.flags, strict=True):
        fl, extra = triplet(bool(f & 1), x - lx, y - ly)
        flags.append(fl)
        coords += extra
        lx, ly = x, y
    g += flags + coords
    _instr(gl.program.getBytecode() if hasattr(gl, "program") else b"", g, p, c)


def encode_cvt(data: bytes) -> bytes:
    vals = struct.unpack(f">{len(data) // 2}h", data)
    out = bytearray(struct.pack(">H", len(vals)))
    last = 0
    for v in vals:
        d = ((v - last + 0x8000) & 0xFFFF) - 0x8000
        k = abs(d) // 238
        if k <= 8:
            if d < 0:
                out += bytes((239 + k, abs(d) - 238 * k))
            else:
                if k:
                    out.append(247 + k)
                out.append(d - 238 * k)
        else:
            out += bytes((238,)) + struct.pack(">h", d)
        last = v
    return bytes(out)


def encode_hdmx(font: TTFont) -> bytes:
    raw = font.reader["hdmx"]
    _v, nrec, rsize = struct.unpack_from(">HHI", raw, 0)
    upem = font["head"].unitsPerEm
    order = font.getGlyphOrder()
    hm = font["hmtx"]
    out = bytearray(raw[:8])
    bits: list[int] = []
    for r in range(nrec):
        rec = raw[8 + r * rsize : 8 + (r + 1) * rsize]
        out += rec[:2]
        ppem = rec[0]
        for j, name in enumerate(order):
            aw = hm[name][0]
            pred = ((64 * ppem * aw + upem // 2) // upem + 32) // 64
            s = rec[2 + j] - pred
            bits += [1] * abs(s) + [0] + ([1 if s < 0 else 0] if s else [])
    while len(bits) % 8:
        bits.append(0)
    for k in range(0, len(bits), 8):
        out.append(sum(b << i for i, b in enumerate(bits[k : k + 8])))
    return bytes(out)


def ctf_blocks(sfnt: bytes, *, bbox_every: int = 0) -> tuple[bytes, bytes, bytes]:
    """Blocks 1-3 (uncompressed) for a TrueType font."""
    import io

    font = TTFont(io.BytesIO(sfnt))
    tables: dict[str, bytes] = {}
    g, p, c = bytearray(), bytearray(), bytearray()
    loca = font["loca"]
    glyf_raw = font.reader["glyf"]
    offs = list(loca.locations)
    for k in range(len(offs) - 1):
        ctf_glyph(
            glyf_raw[offs[k] : offs[k + 1]],
            g,
            p,
            c,
            bbox=bool(bbox_every) and k % bbox_every == 0,
        )
    for tag in list(font.reader.tables):
        tag = str(tag)
        if tag in ("glyf", "loca", "DSIG"):
            continue
        if tag == "cvt ":
            tables[tag] = encode_cvt(font.reader[tag])
        elif tag == "hdmx":
            tables[tag] = encode_hdmx(font)
        else:
            tables[tag] = font.reader[tag]
    tables["glyf"] = bytes(g)
    tables["loca"] = b""
    return ctf_block1(tables), bytes(p), bytes(c)


def ctf_block1(tables: dict[str, bytes]) -> bytes:
    """Block 1: a table directory (checksums 0) and the tables, each padded to 4 bytes."""
    tags = sorted(tables)
    hdr = bytearray(struct.pack(">IHHHH", 0x00010000, len(tags), 0, 0, 0))
    body = bytearray()
    base = 12 + 16 * len(tags)
    for t in tags:
        hdr += t.encode("latin-1") + struct.pack(">III", 0, base + len(body), len(tables[t]))
        body += tables[t] + bytes(-len(tables[t]) % 4)
    return bytes(hdr + body)


def pack_mtx(blocks: tuple[bytes, bytes, bytes], *, rle: bool = False, version: int = 3) -> bytes:
    comp = [lzcomp(b, rle=rle, version=version) for b in blocks]
    o2 = 10 + len(comp[0])
    o3 = o2 + len(comp[1])
    copy = max(len(b) for b in blocks) + PRELOAD
    return (
        bytes((version,))
        + copy.to_bytes(3, "big")
        + o2.to_bytes(3, "big")
        + o3.to_bytes(3, "big")
        + b"".join(comp)
    )


def mtx_font(sfnt: bytes, *, rle: bool = False, bbox_every: int = 0) -> bytes:
    return pack_mtx(ctf_blocks(sfnt, bbox_every=bbox_every), rle=rle)


def compressed_eot(sfnt: bytes, *, family: str, xor: bool = False) -> bytes:
    """An EOT whose font data is MTX-compressed (TTEMBED_TTCOMPRESSED set)."""
    from duqhunt.sources.office.eot import build_eot

    return build_eot(mtx_font(sfnt), family=family, xor=xor, compressed=True)
