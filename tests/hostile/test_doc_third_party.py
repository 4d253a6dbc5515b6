"""Point 5 of issue #13: third-party parsers run under the same size and memory budget as
our own code. oletools re-open a container on their own (msodde parses every XML part of a
docx, olevba reads every OLE part whole), outside the member budget: a docx whose
word/document.xml declares 2 GiB, or inflates past the member limit, used to be parsed by
msodde (2.2 GB of memory) and called 'clean'. Sizes are now checked first: such a file is
'partial' with the reason, never clean. In worker processes the address space is capped as
well, the backstop for a library that inflates past what it declared. Every file is built
here; nothing large is written (the 2 GiB part is only declared)."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hostile_builders import SRC, report, run_cli

from duqhunt.sources.office.limits import builtin_content

_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_DDE = (
    b'<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>DDEAUTO inert-app'
    b' topic</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
)


def _docx(padding: int) -> bytes:
    """A docx whose document.xml holds a DDE field and ``padding`` spaces after it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", _TYPES)
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(b"<w:document " + _W + b"><w:body>" + _DDE)
            chunk = b" " * (1 << 20)
            for _ in range(padding >> 20):
                fh.write(chunk)
            fh.write(b"</w:body></w:document>")
    return buf.getvalue()


def _declared(data: bytes, name: bytes, size: int) -> bytes:
    """The zip with ``name``'s uncompressed size declared as ``size`` in its local header and
    its central directory entry (the data stays small)."""
    buf = bytearray(data)
    local = buf.index(b"PK\x03\x04")
    while buf[local + 30 : local + 30 + len(name)] != name:
        local = buf.index(b"PK\x03\x04", local + 4)
    struct.pack_into("<I", buf, local + 22, size)
    central = buf.index(b"PK\x01\x02")
    while buf[central + 46 : central + 46 + len(name)] != name:
        central = buf.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", buf, central + 24, size)
    return bytes(buf)


def _scan(tmp_path: Path, data: bytes) -> dict[str, object]:
    path = tmp_path / "in" / "invitation.docx"
    path.parent.mkdir()
    path.write_bytes(data)
    out = tmp_path / "out"
    assert run_cli(["scan", str(path), "--out", str(out), "--jobs", "1"]) == 0
    return report(out)


def test_a_small_docx_still_goes_to_msodde(tmp_path: Path) -> None:
    doc = _scan(tmp_path, _docx(0))
    (verdict,) = doc["verdicts"]  # type: ignore[misc]
    assert verdict["verdict"] == "malicious"
    assert any("DDE link" in r for r in verdict["reasons"])


@pytest.mark.parametrize("case", ["declared-2GiB", "inflates-past-the-member-limit"])
def test_a_part_over_the_limits_is_not_handed_to_oletools(tmp_path: Path, case: str) -> None:
    lim = builtin_content().limits
    if case == "declared-2GiB":
        data = _declared(_docx(0), b"word/document.xml", 2 << 30)
        why = f"part 'word/document.xml' declares {2 << 30} bytes, over the member limit"
    else:
        data = _docx(lim.max_member_bytes + (1 << 20))
        assert len(data) < lim.max_member_bytes // 100  # highly compressible
        why = "part 'word/document.xml' declares"
    doc = _scan(tmp_path, data)
    (verdict,) = doc["verdicts"]  # type: ignore[misc]
    assert verdict["verdict"] == "partial", verdict  # never 'clean'
    (reason,) = verdict["reasons"]
    assert reason.startswith(f"invitation.docx: {why}"), reason
    assert reason.endswith("not handed to oletools (macros and DDE fields not checked)")
    (inp,) = doc["inputs"]  # type: ignore[misc]
    assert inp["status"] == "partial"
    (na,) = doc["not_analysed"]  # type: ignore[misc]
    assert na["reason"] == f"partly analysed: {reason}"


def test_a_worker_cannot_map_more_than_its_memory_budget() -> None:
    """The cap a worker sets on itself: an allocation past it is a MemoryError in that
    process (which the parser calls turn into a partial file), not the machine's memory."""
    code = (
        "import resource\n"
        "from duqhunt.safety import limit_memory\n"
        "limit_memory(256 << 20)\n"
        "soft, _ = resource.getrlimit(resource.RLIMIT_AS)\n"
        "assert soft != resource.RLIM_INFINITY\n"
        "small = bytearray(16 << 20)\n"
        "try:\n"
        "    bytearray(1 << 30)\n"
        "except MemoryError:\n"
        "    print('MemoryError')\n"
    )
    got = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC)},
        timeout=600,
        check=False,
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "MemoryError"


def _woff2_bomb(declared: int, inflated: int) -> bytes:
    """A WOFF2 font of one 'name' table declaring ``declared`` bytes whose brotli stream
    inflates to ``inflated`` zero bytes (a few hundred bytes of input)."""
    import brotli

    stream = brotli.compress(b"\0" * inflated, quality=5)
    directory = bytes([5]) + bytes([declared]) if declared < 128 else b""
    assert directory, "one-byte UIntBase128 only"
    total = len(stream) + 48 + len(directory)
    head = (
        b"wOF2"
        + b"\x00\x01\x00\x00"
        + struct.pack(">IHHII", total, 1, 0, 12 + 16 + declared, len(stream))
    )
    head += b"\x00" * (48 - len(head))
    return head + directory + stream


def test_a_woff2_brotli_bomb_is_refused_before_fonttools_inflates_it(tmp_path: Path) -> None:
    path = tmp_path / "in" / "font.woff2"
    path.parent.mkdir()
    path.write_bytes(_woff2_bomb(100, 256 << 20))
    assert path.stat().st_size < 4096
    out = tmp_path / "out"
    assert run_cli(["scan", str(path), "--out", str(out), "--jobs", "1"]) == 0
    doc = report(out)
    (verdict,) = doc["verdicts"]
    assert verdict["verdict"] == "malformed", verdict
    want = "WOFF2 brotli stream inflates past the 100 bytes its tables declare"
    assert any(want in r for r in verdict["reasons"]), verdict
