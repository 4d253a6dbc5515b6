"""Fuzzing the document containers end to end (issue #13: a harness for every parser entry
point; the font tables have theirs in test_font_fuzz): OLE (a Word .doc), OOXML (a docx with
an obfuscated font), RTF (an embedded font, a DDE field) and zip, each built here, then
mutated (bytes set, inserted, deleted, the file cut) and scanned as a whole. Whatever the
bytes, ``scan_file`` returns a verdict, and a file with any part left out is never 'clean'."""

from __future__ import annotations

import io
import struct
import tempfile
from pathlib import Path

from docs_builders import make_ole_doc
from hypothesis import given, settings
from hypothesis import strategies as st

from duqhunt.docscan import scan_file
from duqhunt.simulate.documents import make_docx, make_font, make_rtf
from testsupport import cpu_bounded, fuzz_examples

FUZZ = settings(max_examples=fuzz_examples(40))
CPU_SECONDS = 30.0  # per example: far above what one small document needs
_FONT = make_font("Dexter Regular")
SEEDS = {
    "doc": make_ole_doc(b"\x13 DDEAUTO inert-app topic \x15" + b"\0" * 64),
    "docx": make_docx(_FONT),
    "rtf": make_rtf(_FONT)[:-1] + b"{\\field{\\*\\fldinst DDEAUTO inert-app topic}}}",
}
SUFFIX = {"doc": ".doc", "docx": ".docx", "rtf": ".rtf"}

Edit = tuple[str, int, int]
edits = st.lists(
    st.tuples(
        st.sampled_from(["set", "insert", "delete", "cut"]),
        st.integers(0, 1 << 16),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=6,
)


def _mutate(data: bytes, steps: list[Edit]) -> bytes:
    buf = bytearray(data)
    for op, at, value in steps:
        i = at % (len(buf) + 1)
        if op == "set" and i < len(buf):
            buf[i] = value
        elif op == "insert":
            buf[i:i] = bytes([value]) * (1 + value % 16)
        elif op == "delete":
            del buf[i : i + 1 + value % 16]
        elif op == "cut":
            del buf[i:]
    return bytes(buf)


@FUZZ
@given(kind=st.sampled_from(sorted(SEEDS)), steps=edits)
def test_mutated_containers_always_get_a_verdict(kind: str, steps: list[Edit]) -> None:
    data = _mutate(SEEDS[kind], steps)
    with tempfile.TemporaryDirectory(prefix="duqhunt-fuzz-") as tmp:
        path = Path(tmp) / f"mutated{SUFFIX[kind]}"
        path.write_bytes(data)
        with cpu_bounded(CPU_SECONDS):
            res = scan_file(path)
    assert res.verdict.path == str(path)
    if res.not_analysed:
        assert res.verdict.verdict != "clean", (res.not_analysed, res.verdict)


def test_the_seeds_are_read_whole() -> None:
    """The unmutated seeds parse, so that mutations start from documents the walk reads."""
    with tempfile.TemporaryDirectory(prefix="duqhunt-fuzz-") as tmp:
        for kind, data in SEEDS.items():
            path = Path(tmp) / f"seed{SUFFIX[kind]}"
            path.write_bytes(data)
            res = scan_file(path)
            assert res.not_analysed is None, (kind, res.not_analysed)
            assert res.kind != "unknown", kind


def test_a_damaged_deflate_stream_is_malformed_not_a_crash(tmp_path: Path) -> None:
    """Found by the fuzz run: one byte set to 0 at the start of a member's deflate data
    (a 'stored' block whose lengths disagree) raised zlib.error out of scan_file. The
    member is now not readable, with the reason, and the rest of the file is analysed."""
    import zipfile

    data = bytearray(SEEDS["docx"])
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("word/fontTable.xml")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    data[info.header_offset + 30 + name_len + extra_len] = 0
    path = tmp_path / "damaged.docx"
    path.write_bytes(bytes(data))
    res = scan_file(path)
    assert res.verdict.verdict != "clean", res.verdict
    assert res.not_analysed is not None
    assert "word/fontTable.xml: member not readable (Error -3" in res.not_analysed
