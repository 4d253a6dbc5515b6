"""What a PE file is made of, for comparing it with others: whole-file fuzzy hashes, imports,
the Rich header, section hashes, strings, and its code as a set of normalised function hashes.

Code: the executable sections are disassembled with capstone (x86 and x64; nothing is run).
Functions start at the entry point, the exports and every direct call target found while
following them (recursive descent: conditional branches both ways, stop at ret, jmp, int3 and
invalid bytes); when that finds fewer than ``MIN_DESCENT_FUNCTIONS``, a linear sweep cuts the
code at ret/int3 padding instead. Each function is hashed on its normalised instructions:
mnemonic plus operand kinds (register R, immediate I, memory M), so addresses, displacements,
immediates and register allocation do not change the hash. Functions under ``MIN_INSNS``
instructions are too generic to count.

Limits (hostile or huge files): bytes read per file, code bytes disassembled, instructions and
functions per file. A file that stops at a limit keeps what was recovered and says so; a file
that cannot be disassembled (not x86, .NET, packed: no code found) is "not comparable by code"
with the reason, and its whole-file hashes still count.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from duqhunt.errors import InputError
from duqhunt.similarity.fuzzy import ssdeep_hash, tlsh_hash

MAX_FILE_BYTES = 64 << 20
MAX_CODE_BYTES = 16 << 20
MAX_INSNS = 3_000_000
MAX_FUNCTIONS = 50_000
MIN_INSNS = 6
MIN_DESCENT_FUNCTIONS = 8
MAX_STRINGS = 4000
#: fuzzy hashes of a file with less content than this (bytes other than zero) say more about
#: the PE layout than about the code: two near-empty files look alike whoever built them
MIN_FUZZY_CONTENT = 2048
_STOP = {"ret", "retf", "iret", "iretd", "iretq", "jmp", "int3", "hlt", "ud2"}
_HEX = re.compile(r"0x[0-9a-f]+|\b\d+\b")
_STR_ASCII = re.compile(rb"[\x20-\x7e]{6,200}")
_STR_WIDE = re.compile(rb"(?:[\x20-\x7e]\x00){6,200}")


@dataclass(frozen=True, slots=True)
class Function:
    rva: int
    size: int  # bytes covered by its instructions
    insns: int
    hash: str


@dataclass(slots=True)
class FileFeatures:
    path: str
    sha256: str
    md5: str
    size: int
    machine: str | None = None
    imphash: str | None = None
    imports: int = 0
    rich_hash: str | None = None
    tlsh: str | None = None
    ssdeep: str | None = None
    signer: str | None = None
    sections: dict[str, str] = field(default_factory=dict)  # name -> md5 of raw data
    functions: list[Function] = field(default_factory=list)
    strings: set[str] = field(default_factory=set)
    code_method: str | None = None  # pdata | descent | sweep
    not_comparable: str | None = None  # why the code could not be compared
    limits: list[str] = field(default_factory=list)

    @property
    def function_hashes(self) -> set[str]:
        return {f.hash for f in self.functions}


def _operand_kinds(op_str: str) -> str:
    if not op_str:
        return ""
    kinds = []
    for op in op_str.split(", "):
        if "[" in op:
            kinds.append("M")
        elif _HEX.fullmatch(op.strip()) or op.strip().lstrip("-").isdigit():
            kinds.append("I")
        else:
            kinds.append("R")
    return ",".join(kinds)


def _norm(mnemonic: str, op_str: str) -> str:
    # direct calls and jumps: the target is an address, masked like any immediate
    return f"{mnemonic} {_operand_kinds(op_str)}"


class _Code:
    """The executable bytes of a PE image, addressed by RVA."""

    def __init__(self, pe: object, mode: int, limits: list[str]) -> None:
        self.spans: list[tuple[int, bytes]] = []
        budget = MAX_CODE_BYTES
        for s in getattr(pe, "sections", []):
            chars = int(s.Characteristics)
            if not (chars & 0x20000000 or chars & 0x00000020):  # MEM_EXECUTE or CNT_CODE
                continue
            data = s.get_data()[: max(0, budget)]
            if len(data) < len(s.get_data()):
                limits.append(f"code disassembled up to {MAX_CODE_BYTES >> 20} MiB")
            budget -= len(data)
            if data:
                self.spans.append((int(s.VirtualAddress), data))
        self.mode = mode

    def locate(self, rva: int) -> tuple[int, bytes] | None:
        for base, data in self.spans:
            if base <= rva < base + len(data):
                return base, data
        return None


def _disassembler(machine: int) -> object | None:
    import capstone

    if machine == 0x14C:
        md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    elif machine == 0x8664:
        md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    else:
        return None
    md.skipdata = False
    return md  # type: ignore[no-any-return]


def _descent(md: object, code: _Code, seeds: list[int], limits: list[str]) -> list[Function]:
    """Recursive descent from ``seeds`` (RVAs)."""
    todo = list(dict.fromkeys(seeds))
    seen_funcs: set[int] = set(todo)
    out: list[Function] = []
    insn_budget = MAX_INSNS
    while todo and len(out) < MAX_FUNCTIONS and insn_budget > 0:
        start = todo.pop()
        span = code.locate(start)
        if span is None:
            continue
        base, data = span
        blocks = [start]
        visited: set[int] = set()
        tokens: list[tuple[int, str]] = []
        covered = 0
        while blocks and insn_budget > 0 and len(visited) < 20_000:
            addr = blocks.pop()
            if addr in visited or not base <= addr < base + len(data):
                continue
            off = addr - base
            for a, size, mnem, ops in md.disasm_lite(data[off : off + 0x4000], addr):  # type: ignore[attr-defined]
                if a in visited:
                    break
                visited.add(a)
                insn_budget -= 1
                covered += size
                tokens.append((a, _norm(mnem, ops)))
                target = _direct_target(ops)
                if mnem == "call":
                    if target is not None and target not in seen_funcs and code.locate(target):
                        seen_funcs.add(target)
                        todo.append(target)
                elif mnem.startswith("j"):
                    if target is not None:
                        blocks.append(target)
                    if mnem == "jmp":
                        break
                    blocks.append(a + size)
                    break
                if mnem in _STOP:
                    break
        if len(tokens) >= MIN_INSNS:
            tokens.sort()
            digest = hashlib.blake2b(
                "\n".join(t for _, t in tokens).encode(), digest_size=12
            ).hexdigest()
            out.append(Function(rva=start, size=covered, insns=len(tokens), hash=digest))
    if insn_budget <= 0:
        limits.append(f"stopped after {MAX_INSNS:,} instructions")
    if len(out) >= MAX_FUNCTIONS:
        limits.append(f"stopped after {MAX_FUNCTIONS:,} functions")
    return out


def _direct_target(ops: str) -> int | None:
    ops = ops.strip()
    if ops.startswith("0x") and "," not in ops and " " not in ops:
        try:
            return int(ops, 16)
        except ValueError:
            return None
    return None


def _sweep(md: object, code: _Code, limits: list[str]) -> list[Function]:
    """Linear sweep: a function ends at ret (padding after it is skipped)."""
    out: list[Function] = []
    insn_budget = MAX_INSNS
    for base, data in code.spans:
        tokens: list[str] = []
        start = base
        covered = 0
        for a, size, mnem, ops in md.disasm_lite(data, base):  # type: ignore[attr-defined]
            insn_budget -= 1
            if insn_budget <= 0:
                limits.append(f"stopped after {MAX_INSNS:,} instructions")
                break
            if mnem in ("int3", "nop") and not tokens:
                start = a + size
                continue
            if not tokens:
                start = a
            tokens.append(_norm(mnem, ops))
            covered += size
            if mnem in ("ret", "retf") or mnem == "int3":
                if len(tokens) >= MIN_INSNS:
                    digest = hashlib.blake2b("\n".join(tokens).encode(), digest_size=12)
                    out.append(Function(start, covered, len(tokens), digest.hexdigest()))
                tokens, covered = [], 0
                if len(out) >= MAX_FUNCTIONS:
                    break
    return out


def _pdata(pe: object, code: _Code, md: object, limits: list[str]) -> list[Function]:
    """x64: the exception directory lists every non-leaf function's start and end."""
    import struct

    try:
        d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[3]  # type: ignore[attr-defined]
        if not d.VirtualAddress or d.Size < 12:
            return []
        raw = pe.get_data(d.VirtualAddress, min(d.Size, 12 * MAX_FUNCTIONS))  # type: ignore[attr-defined]
    except Exception:
        return []
    out: list[Function] = []
    seen: set[int] = set()
    insn_budget = MAX_INSNS
    for begin, end, _unwind in struct.iter_unpack("<III", raw[: len(raw) - len(raw) % 12]):
        if begin in seen or not begin < end or end - begin > 1 << 20:
            continue
        seen.add(begin)
        span = code.locate(begin)
        if span is None:
            continue
        base, data = span
        chunk = data[begin - base : end - base]
        tokens = []
        covered = 0
        for _a, size, mnem, ops in md.disasm_lite(chunk, begin):  # type: ignore[attr-defined]
            tokens.append(_norm(mnem, ops))
            covered += size
        insn_budget -= len(tokens)
        if len(tokens) >= MIN_INSNS:
            digest = hashlib.blake2b("\n".join(tokens).encode(), digest_size=12).hexdigest()
            out.append(Function(rva=begin, size=covered, insns=len(tokens), hash=digest))
        if insn_budget <= 0:
            limits.append(f"stopped after {MAX_INSNS:,} instructions")
            break
    return out


def _pointer_seeds(pe: object, code: _Code) -> list[int]:
    """x86: aligned 32-bit values in data sections that point into code (method tables,
    vtables, callbacks): candidate function starts."""
    import struct

    base = int(pe.OPTIONAL_HEADER.ImageBase)  # type: ignore[attr-defined]
    lo = min((b for b, _ in code.spans), default=0) + base
    hi = max((b + len(d) for b, d in code.spans), default=0) + base
    seeds: list[int] = []
    for s in getattr(pe, "sections", []):
        if int(s.Characteristics) & 0x20000000:
            continue
        data = s.get_data()[: 8 << 20]
        for (v,) in struct.iter_unpack("<I", data[: len(data) - len(data) % 4]):
            if lo <= v < hi:
                seeds.append(v - base)
                if len(seeds) >= MAX_FUNCTIONS:
                    return seeds
    return seeds


def _signer(pe: object, data: bytes) -> str | None:
    """The organisation of the Authenticode signer (the host scanner's certificate reader)."""
    import warnings

    from duqhunt.sources.host.pe import _certificates

    try:
        d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[4]  # type: ignore[attr-defined]
    except (AttributeError, IndexError):
        return None
    if not d.VirtualAddress or d.Size < 8:
        return None
    blob = data[d.VirtualAddress : d.VirtualAddress + d.Size]  # a file offset, not an RVA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            signers, _ = _certificates(blob)
        except Exception:  # a damaged signature says nothing about similarity
            return None
    return signers[0].organisation or signers[0].subject if signers else None


def extract(path: Path, *, code: bool = True) -> FileFeatures:
    """Features of one PE file; raises InputError when it is not a PE file at all."""
    import pefile

    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES)
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    feats = FileFeatures(
        path=str(path),
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        size=size,
    )
    if size > MAX_FILE_BYTES:
        feats.limits.append(f"read the first {MAX_FILE_BYTES >> 20} MiB")
    if len(data) - data.count(0) >= MIN_FUZZY_CONTENT:
        feats.tlsh = tlsh_hash(data)
        feats.ssdeep = ssdeep_hash(data)
    else:
        feats.limits.append(
            f"under {MIN_FUZZY_CONTENT} bytes of content: no fuzzy hashes (identical copies still match)"
        )
    try:
        pe = pefile.PE(data=data, fast_load=True)
    except pefile.PEFormatError as exc:
        raise InputError(str(path), f"not a PE file ({exc})") from None
    try:
        pe.parse_data_directories(
            directories=[
                pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
                pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"],
            ]
        )
    except Exception as exc:  # pefile raises many types on damaged directories
        feats.limits.append(f"data directories unreadable ({type(exc).__name__})")
    machine = int(pe.FILE_HEADER.Machine)
    feats.machine = {0x14C: "x86", 0x8664: "x64", 0xAA64: "arm64", 0x1C4: "arm"}.get(
        machine, hex(machine)
    )
    try:
        feats.imphash = pe.get_imphash() or None
        feats.imports = sum(len(e.imports) for e in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []))
    except Exception:
        feats.imphash = None
    try:  # the Rich header as pefile hashes it (its decoded bytes), which fast_load skips
        rich = pe.parse_rich_header()
        feats.rich_hash = (
            hashlib.md5(rich["clear_data"], usedforsecurity=False).hexdigest() if rich else None
        )
    except Exception:
        feats.rich_hash = None
    feats.signer = _signer(pe, data)
    for s in pe.sections[:96]:
        name = s.Name.rstrip(b"\x00").decode("latin-1", "replace") or "?"
        raw = s.get_data()
        if raw:
            feats.sections[name] = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    feats.strings = _strings(data)
    if not code:
        return feats
    is_dotnet = (
        len(pe.OPTIONAL_HEADER.DATA_DIRECTORY) > 14
        and pe.OPTIONAL_HEADER.DATA_DIRECTORY[14].VirtualAddress != 0
    )
    md = _disassembler(machine)
    if is_dotnet:
        feats.not_comparable = ".NET assembly (IL code is not disassembled)"
        return feats
    if md is None:
        feats.not_comparable = f"machine {feats.machine} is not x86 or x64"
        return feats
    image = _Code(pe, 0, feats.limits)
    if not image.spans:
        feats.not_comparable = "no executable section"
        return feats
    funcs: list[Function] = []
    if machine == 0x8664:
        funcs = _pdata(pe, image, md, feats.limits)
        feats.code_method = "pdata"
    if len(funcs) < MIN_DESCENT_FUNCTIONS:
        seeds = [int(pe.OPTIONAL_HEADER.AddressOfEntryPoint)]
        exports = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
        if exports is not None:
            seeds += [int(s.address) for s in exports.symbols[:10_000] if s.address]
        if machine == 0x14C:
            seeds += _pointer_seeds(pe, image)
        funcs = _descent(md, image, seeds, feats.limits)
        feats.code_method = "descent"
    if len(funcs) < MIN_DESCENT_FUNCTIONS:
        swept = _sweep(md, image, feats.limits)
        if len(swept) > len(funcs):
            funcs, feats.code_method = swept, "sweep"
    feats.functions = funcs
    if not funcs:
        feats.not_comparable = "no function recovered (packed or data-only code section)"
    return feats


def _strings(data: bytes) -> set[str]:
    out: set[str] = set()
    for m in _STR_ASCII.finditer(data):
        out.add(m.group().decode("ascii"))
        if len(out) >= MAX_STRINGS:
            return out
    for m in _STR_WIDE.finditer(data):
        out.add(m.group().decode("utf-16-le"))
        if len(out) >= MAX_STRINGS:
            break
    return out


__all__ = ["FileFeatures", "Function", "extract"]
