"""Property tests of the font parsers: random byte mutations and truncations of valid fonts
must give a result or an InputError (or a subclass), never another exception, and stay within
a work bound: the walkers' step limits (the per-file deadline is set far out, so the clock
never decides a result), the decoder's one-instruction-per-byte, and a CPU-time bound (not
wall-clock: a loaded machine does not fail it). The seeds are inert fonts built with fontTools."""

from __future__ import annotations

import contextlib
import struct

from font_struct_builders import (
    cff2_font,
    colr_font,
    layout_font,
    raw_cff2,
    replace_table,
    table_span,
    woff,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from duqhunt.detectors.doc.catalogue import Emitter
from duqhunt.detectors.doc.fontcheck import analyse_font
from duqhunt.errors import InputError
from duqhunt.sources.office.cff import check_cff
from duqhunt.sources.office.colr import check_colr
from duqhunt.sources.office.fonts import (
    read_directory,
    woff2_layout,
    woff2_to_sfnt,
    woff_layout,
    woff_to_sfnt,
)
from duqhunt.sources.office.limits import Budget, DocLimits, builtin_content
from duqhunt.sources.office.otlayout import GdefInfo, check_gdef, check_layout
from duqhunt.sources.office.ttinstr import FontCodeState, scan_program
from testsupport import cpu_bounded, fuzz_examples

FUZZ = settings(max_examples=fuzz_examples(60))
CPU_SECONDS = 5.0  # per example: far above what a walk within the step limits needs

LAYOUT = layout_font()
CFF2 = replace_table(cff2_font(), "CFF2", raw_cff2())
COLR = colr_font()
WOFF = woff(LAYOUT)
WOFF2 = woff(LAYOUT, "woff2")


def _table(data: bytes, tag: str) -> bytes:
    off, ln = table_span(data, tag)
    return data[off : off + ln]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """The seed with a few bytes, 16-bit or 32-bit fields overwritten, then maybe truncated."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        kind = draw(st.sampled_from(["byte", "u16", "u32"]))
        if kind == "byte":
            data[at] = draw(st.integers(0, 255))
        else:
            n = 2 if kind == "u16" else 4
            v = draw(st.sampled_from([0, 1, 0x7F, 0xFF, 0xFFFF, 0xFFFFFFFF, len(data), 3]))
            data[at : at + n] = (v & ((1 << (8 * n)) - 1)).to_bytes(n, "big")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def _budget() -> Budget:
    # the deadline far out: the step limits, not the clock, end a hostile walk
    return Budget("fuzz", DocLimits(seconds_per_file=3600.0))


def _only_input_errors(fn, *args):  # type: ignore[no-untyped-def]
    with contextlib.suppress(InputError), cpu_bounded(CPU_SECONDS):
        fn(*args)


@FUZZ
@given(mutated(LAYOUT))
def test_read_directory_fuzz(data: bytes) -> None:
    _only_input_errors(read_directory, data, 0, "fuzz")


@FUZZ
@given(mutated(WOFF))
def test_woff_fuzz(data: bytes) -> None:
    woff_layout(data)
    _only_input_errors(woff_to_sfnt, data, _budget(), "fuzz")


@FUZZ
@given(mutated(WOFF2))
def test_woff2_fuzz(data: bytes) -> None:
    woff2_layout(data)
    _only_input_errors(woff2_to_sfnt, data, _budget(), "fuzz")


@FUZZ
@given(mutated(_table(LAYOUT, "GDEF")), st.integers(0, 70000))
def test_gdef_fuzz(raw: bytes, ng: int) -> None:
    _only_input_errors(check_gdef, raw, ng, _budget(), "fuzz")


@FUZZ
@given(mutated(_table(LAYOUT, "GSUB")), st.integers(0, 70000), st.integers(0, 3))
def test_gsub_fuzz(raw: bytes, ng: int, sets: int) -> None:
    _only_input_errors(check_layout, "GSUB", raw, ng, GdefInfo(sets, True), _budget(), "fuzz")


@FUZZ
@given(mutated(_table(LAYOUT, "GPOS")), st.integers(0, 70000))
def test_gpos_fuzz(raw: bytes, ng: int) -> None:
    _only_input_errors(check_layout, "GPOS", raw, ng, GdefInfo(), _budget(), "fuzz")


@FUZZ
@given(mutated(_table(CFF2, "CFF2")), st.sampled_from([None, 0, 4, 70000]))
def test_cff2_fuzz(raw: bytes, ng: int | None) -> None:
    _only_input_errors(lambda: check_cff(raw, ng, _budget(), "fuzz", cff2=True))


@FUZZ
@given(mutated(_table(CFF2, "CFF2")))
def test_cff2_bytes_as_cff1_fuzz(raw: bytes) -> None:
    # CFF2 bytes read as CFF: wrong header, wrong INDEX widths; must still fail softly
    _only_input_errors(
        lambda: check_cff(b"\x01\x00\x04\x01" + raw[5:], 4, _budget(), "fuzz", cff2=False)
    )


@FUZZ
@given(mutated(_table(COLR, "COLR")), st.integers(0, 70000))
def test_colr_fuzz(raw: bytes, ng: int) -> None:
    _only_input_errors(check_colr, raw, ng, _budget(), "fuzz")


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["fpgm", "prep", "glyph"]))
def test_scan_program_fuzz(code: bytes, where: str) -> None:
    state = FontCodeState(max_function_defs=8, max_instruction_defs=2, max_stack=64, max_storage=8)
    _only_input_errors(scan_program, code, where, state)
    # linear: every instruction takes at least its opcode byte
    assert state.instructions <= len(code)


@FUZZ
@given(st.sampled_from([LAYOUT, CFF2, COLR, WOFF, WOFF2]).flatmap(mutated))
def test_analyse_font_fuzz(data: bytes) -> None:
    # the whole analysis turns every InputError into a finding: nothing may escape
    with cpu_bounded(CPU_SECONDS):
        analyse_font(data, Emitter("fuzz"), "fuzz", builtin_content(), _budget())


def test_cff_charstring_seed_is_valid() -> None:
    rep = check_cff(_table(CFF2, "CFF2"), 4, _budget(), "seed", cff2=True)
    assert rep.issues == []
    assert struct.unpack_from(">H", CFF2, 4)[0] > 5


@FUZZ
@given(
    st.sampled_from([b"wOFF", b"wOF2", b"OTTO", b"\x00\x01\x00\x00", b"ttcf"]),
    st.binary(min_size=0, max_size=300),
)
def test_random_bodies_fuzz(magic: bytes, body: bytes) -> None:
    data = magic + body
    with cpu_bounded(CPU_SECONDS):
        analyse_font(data, Emitter("fuzz"), "fuzz", builtin_content(), _budget())
    for walk in (
        lambda: check_gdef(body, 10, _budget(), "f"),
        lambda: check_layout("GPOS", body, 10, GdefInfo(1, True), _budget(), "f"),
        lambda: check_cff(b"\x02\x00\x05" + body, 10, _budget(), "f", cff2=True),
        lambda: check_cff(b"\x01\x00\x04\x02" + body, 10, _budget(), "f", cff2=False),
        lambda: check_colr(b"\x00\x01" + body, 10, _budget(), "f"),
    ):
        _only_input_errors(walk)
