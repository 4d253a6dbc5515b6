"""A static TrueType instruction decoder (fpgm, prep, glyph programs). Decodes, never executes.

It walks the bytecode linearly, tracks pushed constants on an abstract stack (so FDEF/IDEF/CALL
numbers and storage indices are known when they are pushed constants) and reports what a
rasteriser would have to reject or what exceeds the limits the font declares in maxp.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# (pops, pushes) per opcode; None = effect unknown statically (stack tracking resets).
_EFFECT: dict[int, tuple[int, int] | None] = {}


def _set(ops: range | tuple[int, ...], eff: tuple[int, int] | None) -> None:
    for op in ops:
        _EFFECT[op] = eff


_set(range(0x00, 0x06), (0, 0))
_set(range(0x06, 0x0C), (2, 0))
_set((0x0C, 0x0D), (0, 2))
_set((0x0E,), (0, 0))
_set((0x0F,), (5, 0))
_set(range(0x10, 0x18), (1, 0))
_set((0x18, 0x19), (0, 0))
_set((0x1A,), (1, 0))
_set((0x1B,), (0, 0))  # ELSE
_set((0x1C,), None)  # JMPR
_set((0x1D, 0x1E, 0x1F), (1, 0))
_set((0x20,), (1, 2))  # DUP (special-cased)
_set((0x21,), (1, 0))
_set((0x22,), None)  # CLEAR
_set((0x23,), (2, 2))  # SWAP (special-cased)
_set((0x24,), (0, 1))
_set((0x25,), None)  # CINDEX
_set((0x26,), None)  # MINDEX
_set((0x27,), (2, 0))
_set((0x29,), (1, 0))
_set((0x2A, 0x2B), None)  # LOOPCALL, CALL (special-cased)
_set((0x2C,), (1, 0))  # FDEF (special-cased)
_set((0x2D,), (0, 0))  # ENDF
_set((0x2E, 0x2F), (1, 0))
_set((0x30, 0x31), (0, 0))
_set((0x32, 0x33), None)  # SHP uses loop
_set((0x34, 0x35, 0x36, 0x37), (1, 0))
_set((0x38, 0x39), None)  # SHPIX, IP (loop)
_set((0x3A, 0x3B), (2, 0))
_set((0x3C,), None)  # ALIGNRP (loop)
_set((0x3D,), (0, 0))
_set((0x3E, 0x3F), (2, 0))
_set((0x42,), (2, 0))  # WS (special-cased)
_set((0x43,), (1, 1))  # RS (special-cased)
_set((0x44,), (2, 0))
_set((0x45,), (1, 1))
_set((0x46, 0x47), (1, 1))
_set((0x48,), (2, 0))
_set((0x49, 0x4A), (2, 1))
_set((0x4B, 0x4C), (0, 1))
_set((0x4D, 0x4E), (0, 0))
_set((0x4F,), (1, 0))
_set(range(0x50, 0x56), (2, 1))
_set((0x56, 0x57), (1, 1))
_set((0x58,), (1, 0))  # IF
_set((0x59,), (0, 0))  # EIF
_set((0x5A, 0x5B), (2, 1))
_set((0x5C,), (1, 1))
_set((0x5D, 0x71, 0x72, 0x73, 0x74, 0x75), None)  # DELTAs
_set((0x5E, 0x5F), (1, 0))
_set(range(0x60, 0x64), (2, 1))
_set(range(0x64, 0x70), (1, 1))
_set((0x70,), (2, 0))
_set((0x76, 0x77), (1, 0))
_set((0x78, 0x79), None)  # JROT, JROF
_set((0x7A, 0x7C, 0x7D), (0, 0))
_set((0x7E, 0x7F), (1, 0))
_set((0x80,), None)  # FLIPPT (loop)
_set((0x81, 0x82), (2, 0))
_set((0x85,), (1, 0))
_set((0x86, 0x87), (2, 0))
_set((0x88,), (1, 1))
_set((0x89,), (1, 0))  # IDEF (special-cased)
_set((0x8A,), (3, 3))
_set((0x8B, 0x8C), (2, 1))
_set((0x8D,), (1, 0))
_set((0x8E,), (2, 0))
_set((0x91,), None)  # GETVARIATION
_set((0x92,), None)  # GETDATA (Apple)
_set(range(0xC0, 0xE0), (1, 0))
_set(range(0xE0, 0x100), (2, 0))

UNDEFINED_OPCODES = frozenset(
    op
    for op in range(0x100)
    if op not in _EFFECT and op not in (0x40, 0x41) and not 0xB0 <= op <= 0xBF
)
IF, ELSE, EIF, FDEF, ENDF, IDEF, CALL, LOOPCALL = 0x58, 0x1B, 0x59, 0x2C, 0x2D, 0x89, 0x2B, 0x2A
JUMPS = frozenset((0x1C, 0x78, 0x79))
# how many values past maxp.maxStackElements a program may push and still be info
STACK_SLACK = 16


@dataclass(frozen=True, slots=True)
class BytecodeIssue:
    kind: str
    offset: int
    message: str
    severity: str = "medium"


@dataclass(slots=True)
class FontCodeState:
    """What the programs of one font define and use (shared over fpgm, prep and glyphs)."""

    max_function_defs: int | None = None
    max_instruction_defs: int | None = None
    max_stack: int | None = None
    max_storage: int | None = None
    functions: set[int] = field(default_factory=set)
    idefs: set[int] = field(default_factory=set)
    calls: list[tuple[str, int, int]] = field(default_factory=list)  # (where, offset, fn)
    instructions: int = 0


# What scan_program does per opcode (one table lookup instead of a chain of tests).
_K_FIXED, _K_PUSH, _K_UNDEF, _K_LOSE, _K_IF, _K_ELSE, _K_EIF = 0, 1, 2, 3, 4, 5, 6
_K_DEF, _K_ENDF, _K_CALL, _K_STORAGE, _K_DUP, _K_SWAP = 7, 8, 9, 10, 11, 12


def _kind(op: int) -> int:
    if op in (0x40, 0x41) or 0xB0 <= op <= 0xBF:
        return _K_PUSH
    if op in UNDEFINED_OPCODES:
        return _K_UNDEF
    special = {
        IF: _K_IF,
        ELSE: _K_ELSE,
        EIF: _K_EIF,
        FDEF: _K_DEF,
        IDEF: _K_DEF,
        ENDF: _K_ENDF,
        CALL: _K_CALL,
        LOOPCALL: _K_CALL,
        0x42: _K_STORAGE,
        0x43: _K_STORAGE,
        0x20: _K_DUP,
        0x23: _K_SWAP,
    }
    if op in special:
        return special[op]
    return _K_LOSE if _EFFECT.get(op) is None else _K_FIXED


_KINDS: tuple[int, ...] = tuple(_kind(op) for op in range(0x100))
_POPS: tuple[int, ...] = tuple((_EFFECT.get(op) or (0, 0))[0] for op in range(0x100))
_PUSHES: tuple[int, ...] = tuple((_EFFECT.get(op) or (0, 0))[1] for op in range(0x100))
_WORDS: tuple[struct.Struct, ...] = tuple(struct.Struct(f">{k}h") for k in range(0x100))
# The abstract stack keeps at most this many values (the oldest half is dropped past it; the
# depth stays exact while the bottom is known).
_KEEP = 4096


def scan_program(
    code: bytes, where: str, state: FontCodeState, *, max_issues: int = 20
) -> list[BytecodeIssue]:
    """Decode one program; ``where`` is 'fpgm', 'prep' or 'glyph'.

    The abstract stack lives in locals: ``items`` (known values, None = unknown), ``depth``
    (exact while ``known_bottom``), ``max_depth``. A pop takes the top item if there is one
    and lowers the depth to no less than 0; a push appends, raises the depth and drops the
    oldest half of the items past ``_KEEP``; losing track clears the items.
    """
    issues: list[BytecodeIssue] = []

    def add(kind: str, off: int, msg: str, sev: str = "medium") -> None:
        if len(issues) < max_issues:
            issues.append(BytecodeIssue(kind, off, msg, sev))

    items: list[int | None] = []
    depth = max_depth = 0
    known_bottom = True
    if_stack: list[int] = []
    fdef_open: int | None = None
    idef_open: int | None = None
    kinds, pops_of, pushes_of = _KINDS, _POPS, _PUSHES
    n = len(code)
    i = 0
    count_ops = 0
    while i < n:
        op = code[i]
        off = i
        count_ops += 1
        k = kinds[op]
        if k == _K_PUSH:
            if op == 0x40 or op == 0x41:
                if i + 1 >= n:
                    add(
                        "push-overrun",
                        off,
                        f"{'NPUSHB' if op == 0x40 else 'NPUSHW'} at 0x{off:x} has no count byte",
                    )
                    break
                count = code[i + 1]
                width = 1 if op == 0x40 else 2
                start = i + 2
            else:
                count = (op & 7) + 1
                width = 1 if op < 0xB8 else 2
                start = i + 1
            end = start + count * width
            if end > n:
                add(
                    "push-overrun",
                    off,
                    f"PUSH of {count} value(s) at 0x{off:x} runs {end - n} byte(s) past the end of the program",
                )
                break
            if width == 1:
                items += code[start:end]
            else:
                items += _WORDS[count].unpack_from(code, start)
            depth += count
            if depth > max_depth:
                max_depth = depth
            if len(items) > _KEEP:
                del items[: _KEEP // 2]
            i = end
            continue
        i += 1
        if k == _K_FIXED:
            p = pops_of[op]
            if p:
                if len(items) >= p:
                    del items[-p:]
                else:
                    items.clear()
                depth = depth - p if depth > p else 0
            q = pushes_of[op]
            if q:
                items += (None,) * q
                depth += q
                if depth > max_depth:
                    max_depth = depth
                if len(items) > _KEEP:
                    del items[: _KEEP // 2]
            continue
        if k == _K_LOSE:
            items.clear()
            known_bottom = False
            continue
        if k == _K_CALL:
            fn = items.pop() if items else None
            depth = depth - 1 if depth > 1 else 0
            if op == LOOPCALL:
                if items:
                    items.pop()
                depth = depth - 1 if depth > 1 else 0
            if fn is not None:
                state.calls.append((where, off, fn))
                if state.max_function_defs is not None and not 0 <= fn < state.max_function_defs:
                    add(
                        "function-limit",
                        off,
                        f"CALL of function {fn} at 0x{off:x} outside maxp.maxFunctionDefs={state.max_function_defs}",
                    )
            items.clear()
            known_bottom = False
            continue
        if k == _K_UNDEF:
            if op not in state.idefs:
                add("undefined-opcode", off, f"undefined opcode 0x{op:02x} at 0x{off:x}")
            items.clear()
            known_bottom = False
            continue
        if k == _K_IF:
            if_stack.append(off)
            if items:
                items.pop()
            depth = depth - 1 if depth > 1 else 0
        elif k == _K_ELSE:
            if not if_stack:
                add("unbalanced-if", off, f"ELSE without IF at 0x{off:x}")
        elif k == _K_EIF:
            if not if_stack:
                add("unbalanced-if", off, f"EIF without IF at 0x{off:x}")
            else:
                if_stack.pop()
        elif k == _K_DEF:
            name = "FDEF" if op == FDEF else "IDEF"
            num = items.pop() if items else None
            depth = depth - 1 if depth > 1 else 0
            if where == "glyph":
                add(
                    "def-outside-fpgm",
                    off,
                    f"{name} at 0x{off:x} inside a glyph program (only fpgm/prep may define)",
                )
            if fdef_open is not None or idef_open is not None:
                add(
                    "nested-def",
                    off,
                    f"{name} at 0x{off:x} inside another definition (FDEF/IDEF cannot nest)",
                )
            if op == FDEF:
                fdef_open = off
                if num is not None:
                    if num < 0:
                        add(
                            "function-limit",
                            off,
                            f"FDEF of negative function number {num} at 0x{off:x}",
                        )
                    elif state.max_function_defs is not None and num >= state.max_function_defs:
                        add(
                            "function-limit",
                            off,
                            f"FDEF {num} at 0x{off:x} is beyond maxp.maxFunctionDefs={state.max_function_defs}",
                        )
                    state.functions.add(num)
            else:
                idef_open = off
                if num is not None:
                    if not 0 <= num <= 0xFF:
                        add("idef-redefines", off, f"IDEF of impossible opcode {num} at 0x{off:x}")
                    elif num not in UNDEFINED_OPCODES:
                        add(
                            "idef-redefines",
                            off,
                            f"IDEF at 0x{off:x} redefines the defined opcode 0x{num:02x}",
                            "high",
                        )
                    elif num in state.idefs:
                        add(
                            "idef-redefines",
                            off,
                            f"IDEF at 0x{off:x} defines opcode 0x{num:02x} again",
                            "low",
                        )
                    state.idefs.add(num)
                    if (
                        state.max_instruction_defs is not None
                        and len(state.idefs) > state.max_instruction_defs
                    ):
                        add(
                            "idef-limit",
                            off,
                            f"{len(state.idefs)} IDEFs exceed maxp.maxInstructionDefs={state.max_instruction_defs}",
                        )
            # The body is not executed when defined: reset the view of the stack inside it.
            items.clear()
            known_bottom = False
        elif k == _K_ENDF:
            if fdef_open is None and idef_open is None:
                add("unbalanced-fdef", off, f"ENDF without FDEF/IDEF at 0x{off:x}")
            fdef_open = idef_open = None
            items.clear()
            known_bottom = False
        elif k == _K_STORAGE:  # WS, RS
            if op == 0x42:
                if items:
                    items.pop()
                depth = depth - 1 if depth > 1 else 0
            idx = items.pop() if items else None
            depth = depth - 1 if depth > 1 else 0
            if (
                idx is not None
                and state.max_storage is not None
                and not 0 <= idx < max(state.max_storage, 1)
            ):
                add(
                    "storage-limit",
                    off,
                    f"{'WS' if op == 0x42 else 'RS'} index {idx} at 0x{off:x} outside maxp.maxStorage={state.max_storage}",
                    "low",
                )
            if op == 0x43:
                items.append(None)
                depth += 1
                if depth > max_depth:
                    max_depth = depth
                if len(items) > _KEEP:
                    del items[: _KEEP // 2]
        else:  # DUP pops one value and pushes it twice; SWAP pops a, b and pushes a, b
            a = items.pop() if items else None
            depth = depth - 1 if depth > 1 else 0
            if k == _K_DUP:
                b = a
            else:
                b = items.pop() if items else None
                depth = depth - 1 if depth > 1 else 0
            items.append(a)
            items.append(b)
            depth += 2
            if depth > max_depth:
                max_depth = depth
            if len(items) > _KEEP:
                del items[: _KEEP // 2]
    state.instructions += count_ops
    if if_stack:
        add(
            "unbalanced-if",
            if_stack[-1],
            f"{len(if_stack)} IF(s) without EIF (last at 0x{if_stack[-1]:x})",
        )
    if fdef_open is not None or idef_open is not None:
        o = fdef_open if fdef_open is not None else idef_open
        add("unbalanced-fdef", o or 0, f"FDEF/IDEF at 0x{o:x} without ENDF")
    if state.max_stack is not None and known_bottom and max_depth > state.max_stack:
        add(
            "stack-limit",
            0,
            f"pushes {max_depth} values, more than maxp.maxStackElements={state.max_stack}",
            # a few over the maximum is common in fonts from many tools (info); far over is
            # what an overflow of a stack sized by maxp needs
            "medium"
            if max_depth > state.max_stack + 256
            else "low"
            if max_depth > state.max_stack + STACK_SLACK
            else "info",
        )
    return issues


def undefined_calls(state: FontCodeState) -> list[tuple[str, int, int]]:
    """Calls (where, offset, function) whose constant target no FDEF in the font defines."""
    return [c for c in state.calls if c[2] not in state.functions]
