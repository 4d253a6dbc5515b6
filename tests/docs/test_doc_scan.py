"""Document and font scanning: every check and container path on inert fonts built in code."""

from __future__ import annotations

import io
import struct
import uuid
import zipfile
from pathlib import Path

import pytest
from docs_builders import (
    FC_STTBTTMBD_AT,
    FONTS_AT,
    STTB_AT,
    make_cfb,
    make_docx,
    make_font,
    make_ole_doc,
    make_rtf,
    make_word_doc,
    malformed_dexter,
    odttf,
    word_fib,
    word_streams,
)

from duqhunt.docscan import is_document, scan_documents, scan_file
from duqhunt.sources.office.eot import build_eot
from duqhunt.sources.office.ole import ppt_font_records
from duqhunt.sources.office.ttinstr import FontCodeState, scan_program


def _scan(tmp_path: Path, name: str, data: bytes, **kw: object):  # type: ignore[no-untyped-def]
    p = tmp_path / name
    p.write_bytes(data)
    return scan_file(p, **kw)  # type: ignore[arg-type]


def _checks(res) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[str]] = {}
    for f in res.findings:
        out.setdefault(f.detector, []).append(
            f"{f.severity}|{f.evidence[0].locator}|{f.evidence[0].summary}"
        )
    return out


def test_clean_font_is_clean(tmp_path: Path) -> None:
    res = _scan(tmp_path, "clean.ttf", make_font())
    assert res.verdict.verdict == "clean", res.findings


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (bytes([0x28]), "undefined-opcode"),
        (bytes([0x40, 0x05, 0x01]), "push-overrun"),
        (bytes([0xB0, 0x01, 0x58]), "unbalanced-if"),
        (bytes([0x59]), "unbalanced-if"),
        (bytes([0xB0, 0x00, 0x2C]), "unbalanced-fdef"),
        (bytes([0x2D]), "unbalanced-fdef"),
        (bytes([0xB0, 0x20, 0x89, 0x2D]), "idef-redefines"),
        (bytes([0xB0, 0x09, 0x2C, 0x2D]), "function-limit"),
        (bytes([0xB0, 0x00, 0x2C, 0xB0, 0x01, 0x2C, 0x2D]), "nested-def"),
    ],
)
def test_bytecode_decoder(code: bytes, kind: str) -> None:
    st = FontCodeState(max_function_defs=4, max_instruction_defs=1, max_stack=64, max_storage=4)
    kinds = {i.kind for i in scan_program(code, "fpgm", st)}
    assert kind in kinds


def test_bytecode_glyph_rules() -> None:
    st = FontCodeState(max_function_defs=4, max_stack=2, max_storage=1)
    kinds = {i.kind for i in scan_program(bytes([0xB0, 0x00, 0x2C, 0x2D]), "glyph", st)}
    assert "def-outside-fpgm" in kinds
    kinds = {i.kind for i in scan_program(bytes([0xB4, 1, 2, 3, 4, 5]), "glyph", st)}
    assert "stack-limit" in kinds
    kinds = {i.kind for i in scan_program(bytes([0xB0, 0x07, 0x43]), "glyph", st)}
    assert "storage-limit" in kinds
    st2 = FontCodeState()
    scan_program(bytes([0xB0, 0x03, 0x2B]), "glyph", st2)
    from duqhunt.sources.office.ttinstr import undefined_calls

    assert undefined_calls(st2) == [("glyph", 2, 3)]


@pytest.mark.parametrize(
    ("declared", "pushed", "severity"),
    [(0, 1, "info"), (64, 80, "info"), (64, 81, "low"), (64, 320, "low"), (64, 321, "medium")],
)
def test_stack_overshoot_is_graded(declared: int, pushed: int, severity: str) -> None:
    """A few values past maxp.maxStackElements (common in benign fonts) is info; far past it,
    what an overflow of a stack sized by maxp needs, is low, then medium."""
    code = b"".join(bytes([0xB0, 1]) for _ in range(pushed))  # PUSHB[0] one byte each
    issues = scan_program(code, "prep", FontCodeState(max_stack=declared))
    assert [(i.kind, i.severity) for i in issues] == [("stack-limit", severity)]


@pytest.mark.parametrize(("declared", "severity"), [(40, "info"), (0, "low")])
def test_glyph_program_over_maxp_is_graded(tmp_path: Path, declared: int, severity: str) -> None:
    """A glyph program a little over maxp.maxSizeOfInstructions is info, far over it low."""
    from font_struct_builders import patch, table_span

    font = make_font(glyph_code=bytes([0xB0, 1, 0x21]) * 30)  # 90 bytes of PUSHB 1, POP
    at, _ = table_span(font, "maxp")
    font = patch(font, at + 26, struct.pack(">H", declared))  # maxSizeOfInstructions
    res = _scan(tmp_path, "f.ttf", font)
    got = [f.severity for f in res.findings if "maxSizeOfInstructions" in f.evidence[0].summary]
    assert got == [severity]


def test_malformed_dexter_font(tmp_path: Path) -> None:
    font = (
        malformed_dexter()
        + b"\x90" * 80
        + bytes.fromhex("e8000000005d")
        + bytes.fromhex("64a130000000")
    )
    res = _scan(tmp_path, "dexter.ttf", font)
    c = _checks(res)
    assert "DQ-DOC-008" in c  # Duqu traits
    assert any("fpgm" in x and "undefined opcode" in x for x in c["DQ-DOC-004"])
    assert any("glyph 1 instructions" in x and "past the end" in x for x in c["DQ-DOC-004"])
    assert any("redefines" in x for x in c["DQ-DOC-004"])
    assert "DQ-DOC-005" in c and "DQ-DOC-006" in c  # trailing data, shellcode traits
    assert any(x.startswith("high") for x in c["DQ-DOC-006"])
    assert res.verdict.verdict == "malicious"


def test_directory_and_table_checks(tmp_path: Path) -> None:
    font = bytearray(make_font())
    num = struct.unpack_from(">H", font, 4)[0]
    recs = {bytes(font[12 + 16 * k : 16 + 16 * k]).decode(): 12 + 16 * k for k in range(num)}
    struct.pack_into(">I", font, recs["hmtx"] + 12, 0xFFFF)  # hmtx length out of bounds
    head_off = struct.unpack_from(">I", font, recs["head"] + 8)[0]
    struct.pack_into(">h", font, head_off + 50, 7)  # indexToLocFormat 7
    res = _scan(tmp_path, "bad.ttf", bytes(font))
    c = _checks(res)
    assert any("runs past the end" in x and x.startswith("medium") for x in c["DQ-DOC-001"])
    assert any("indexToLocFormat" in x for x in c["DQ-DOC-003"])
    assert c["DQ-DOC-002"][0].startswith("info")  # checksum mismatch is info only
    assert res.verdict.verdict == "malformed"


def test_embedded_pe_in_font(tmp_path: Path) -> None:
    mz = bytearray(
        b"MZ" + b"\0" * 0x3A + struct.pack("<I", 0x80) + b"\0" * 0x40 + b"PE\0\0" + b"\0" * 64
    )
    res = _scan(tmp_path, "pe.ttf", make_font() + bytes(mz))
    assert "DQ-DOC-007" in _checks(res)
    assert res.verdict.verdict == "malicious"


def test_eot_xor_and_mtx(tmp_path: Path) -> None:
    res = _scan(
        tmp_path, "dexter.eot", build_eot(malformed_dexter(), family="Dexter Regular", xor=True)
    )
    c = _checks(res)
    assert "DQ-DOC-008" in c and "DQ-DOC-004" in c
    assert any("XOR 0x50 undone" in x for x in c["DQ-DOC-004"])
    eot = bytearray(build_eot(make_font(), family="Plain"))
    struct.pack_into("<I", eot, 12, 0x4)  # TTEMBED_TTCOMPRESSED
    res = _scan(tmp_path, "mtx.eot", bytes(eot))
    # the flag without an MTX stream behind it: the decoder says why (MTX decoding: test_mtx.py)
    assert any("MTX version 0 not supported" in x for x in _checks(res)["DQ-DOC-016"])


def test_docx_embedded_font(tmp_path: Path) -> None:
    res = _scan(
        tmp_path,
        "invite.docx",
        make_docx(malformed_dexter(), external="http://198.51.100.7/t.dotm"),
    )
    c = _checks(res)
    assert any("word/fonts/font1.odttf, table fpgm, offset 0x" in x for x in c["DQ-DOC-004"])
    assert "DQ-DOC-008" in c and "DQ-DOC-010" in c
    assert any(x.startswith("high") and "attachedTemplate" in x for x in c["DQ-DOC-014"])
    assert res.verdict.verdict == "malicious"


def test_rtf_fontemb(tmp_path: Path) -> None:
    res = _scan(tmp_path, "invite.rtf", make_rtf(malformed_dexter()))
    c = _checks(res)
    assert any("\\fontemb group 0" in x for x in c["DQ-DOC-004"])
    assert "DQ-DOC-008" in c


def _dexter_eot() -> bytes:
    return build_eot(malformed_dexter(), family="Dexter Regular", xor=True)


def test_doc_font_found_through_sttbttmbd(tmp_path: Path) -> None:
    # FIB -> 1Table SttbTtmbd -> Ttmbd.fc -> EOT. A second EOT that no entry lists proves
    # that carving did not run: only the listed font is analysed.
    word, table = word_streams([_dexter_eot()], unlisted=build_eot(make_font(), family="Plain"))
    res = _scan(tmp_path, "invite.doc", make_word_doc(word, table))
    c = _checks(res)
    loc = f"WordDocument, SttbTtmbd entry 0, offset 0x{FONTS_AT:x}"
    assert any(loc in x and "Dexter Regular" in x for x in c["DQ-DOC-010"])
    assert len(c["DQ-DOC-010"]) == 1
    assert any(loc in x for x in c["DQ-DOC-004"])
    assert any(loc in x and "'Dexter Regular'" in x for x in c["DQ-DOC-008"])
    assert "DQ-DOC-016" not in c
    assert not any("carved" in x for v in c.values() for x in v)
    assert res.verdict.verdict == "malicious"


def test_doc_font_carving_fallback(tmp_path: Path) -> None:
    # The FIB lists no SttbTtmbd: the EOT is still found, by carving, and the locator says so.
    res = _scan(tmp_path, "invite.doc", make_ole_doc(_dexter_eot()))
    c = _checks(res)
    assert any("WordDocument, carved EOT 0, offset 0x" in x for x in c["DQ-DOC-004"])
    assert "DQ-DOC-008" in c
    assert res.verdict.verdict == "malicious"


def _corrupt_entry_fc(word: bytearray, table: bytearray) -> None:
    struct.pack_into("<I", table, STTB_AT + 10, len(word) + 0x10000)


def _corrupt_count(word: bytearray, table: bytearray) -> None:
    struct.pack_into("<h", table, STTB_AT + 2, 5)  # ibstMac 5, lcb holds 1


def _corrupt_sttb_fc(word: bytearray, table: bytearray) -> None:
    struct.pack_into("<I", word, FC_STTBTTMBD_AT, 0x7FFFFF00)


def _corrupt_brgbst(word: bytearray, table: bytearray) -> None:
    struct.pack_into("<H", table, STTB_AT + 8, 0x400)


def _corrupt_magic(word: bytearray, table: bytearray) -> None:
    struct.pack_into("<I", table, STTB_AT + 10, FONTS_AT + 2)


def _corrupt_ibstmax(word: bytearray, table: bytearray) -> None:
    struct.pack_into("<h", table, STTB_AT + 4, 7)


@pytest.mark.parametrize(
    ("corrupt", "message", "path"),
    [
        (_corrupt_entry_fc, "outside the WordDocument stream", "carved"),
        (_corrupt_count, "SttbTtmbd count mismatch: ibstMac says 5 font(s)", "SttbTtmbd"),
        (_corrupt_sttb_fc, "runs past the 1Table stream", "carved"),
        (_corrupt_brgbst, "brgbst 1024 puts rgTTMBD outside", "carved"),
        (_corrupt_magic, "no EOT structure (magic 0x504C)", "carved"),
        (_corrupt_ibstmax, "ibstMax is 7, not 64", "SttbTtmbd"),
    ],
)
def test_doc_corrupt_sttbttmbd(tmp_path: Path, corrupt: object, message: str, path: str) -> None:
    word, table = word_streams([_dexter_eot()])
    corrupt(word, table)  # type: ignore[operator]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "invite.doc").write_bytes(make_word_doc(word, table))
    (tmp_path / "in" / "plain.ttf").write_bytes(make_font())
    res = scan_documents([tmp_path / "in"], jobs=1)
    verdicts = {Path(v.path).name: v.verdict for v in res.verdicts}
    assert verdicts == {"invite.doc": "malicious", "plain.ttf": "clean"}  # the scan went on
    c = _checks(res)
    assert any(message in x and "SttbTtmbd" in x for x in c["DQ-DOC-016"]), c["DQ-DOC-016"]
    # the font is still analysed: through the SttbTtmbd when its entry is usable, else carved
    want = "WordDocument, carved EOT 0" if path == "carved" else "WordDocument, SttbTtmbd entry 0"
    assert any(want in x for x in c["DQ-DOC-010"]), c["DQ-DOC-010"]


def test_sttbttmbd_parser_only_raises_input_errors() -> None:
    import random

    from duqhunt.errors import InputError
    from duqhunt.sources.office import ole

    word, table = word_streams([_dexter_eot(), build_eot(make_font(), family="Plain")])
    rnd = random.Random(4)
    for _ in range(3000):
        w, t = bytearray(word), bytearray(table)
        for _k in range(rnd.randint(1, 4)):
            if rnd.random() < 0.5:
                w[rnd.randrange(FC_STTBTTMBD_AT - 8, FC_STTBTTMBD_AT + 8)] = rnd.randrange(256)
            else:
                t[rnd.randrange(STTB_AT, len(t))] = rnd.randrange(256)
        cut = rnd.choice([len(w), rnd.randrange(len(w))])
        fib = ole.parse_fib(bytes(w[:cut]))
        if fib is None:
            continue
        try:
            sttb = ole.parse_sttb_ttmbd(bytes(t), fib, "x.doc", "1Table")
            for e in sttb.entries if sttb else ():
                try:
                    ole.ttmbd_eot(bytes(w[:cut]), e, "x.doc", "WordDocument")
                except InputError as exc:
                    assert exc.path == "x.doc" and exc.offset is not None
        except InputError as exc:
            assert exc.path == "x.doc" and exc.offset is not None


def test_rtf_dde_field_matches_msodde(tmp_path: Path) -> None:
    # One RTF parse gives both objects and fields; the DDE text is what msodde reports. Inert:
    # the field names no real program.
    from oletools import msodde

    rtf = (
        b'{\\rtf1{\\field{\\*\\fldinst {\\rtlch DDEAUTO inert-app \\\\"topic\\\\"}}'
        b"{\\fldrslt x}}{\\field{\\*\\fldinst PAGE}{\\fldrslt 1}}}"
    )
    res = _scan(tmp_path, "dde.rtf", rtf)
    want = msodde.process_file(str(tmp_path / "dde.rtf"), msodde.FIELD_FILTER_DDE).strip()
    assert want.startswith("DDEAUTO inert-app")
    assert _checks(res)["DQ-DOC-012"] == [f"high|dde.rtf|DDE link: {want[:200]!r}"]
    assert "DQ-DOC-012" not in _checks(_scan(tmp_path, "page.rtf", rtf.replace(b"DDEAUTO", b"REF")))


def test_sylk_xlm_macro(tmp_path: Path) -> None:
    # An inert SYLK macro sheet: O;E marks a macro sheet, NN names Auto_Open, C;...;E holds
    # formulas. olevba reads it; the keyword scan does not report it a second time.
    sylk = b'ID;PWXL;N;E\r\nO;L;E\r\nNN;NAuto_Open;ER1C1\r\nC;Y1;X1;EEXEC("x")\r\nE\r\n'
    res = _scan(tmp_path, "sheet.xls", sylk)
    c = _checks(res)
    assert len(c["DQ-DOC-011"]) == 1 and "XLM macros; auto-exec: Auto_Open" in c["DQ-DOC-011"][0]
    plain = b"ID;PWXL;N;E\r\nC;Y1;X1;K1\r\nE\r\n"
    assert _scan(tmp_path, "plain.slk", plain).verdict.verdict == "clean"


def test_zip_nesting_and_extract(tmp_path: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../evil/invite.docx", make_docx(malformed_dexter()))
        z.writestr("readme.txt", "hello")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "mail.zip").write_bytes(buf.getvalue())
    (tmp_path / "in" / "empty").write_bytes(b"")
    out = tmp_path / "extract"
    res = scan_documents([tmp_path / "in"], jobs=1, extract_dir=out)
    verdicts = {Path(v.path).name: v.verdict for v in res.verdicts}
    assert verdicts == {"mail.zip": "malicious", "empty": "unsupported"}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and all(p.resolve().is_relative_to(out.resolve()) for p in files)
    assert not (tmp_path / "evil").exists()
    assert any(f.read_bytes()[:4] == b"\x00\x01\x00\x00" for f in files)  # de-obfuscated font


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x00\x01\x00\x00\xff\xff",
        b"wOFF" + b"\xff" * 60,
        b"wOF2" + b"\0" * 60,
        b"ttcf\0\0\0\0\xff\xff\xff\xff",
        b"PK\x03\x04garbage",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
        b"{\\rtf1{\\*\\fontemb zz}",
    ],
)
def test_hostile_inputs_fail_soft(tmp_path: Path, blob: bytes) -> None:
    res = _scan(tmp_path, "x.bin", blob)
    assert res.verdict.verdict in ("malformed", "unsupported", "clean", "suspicious")


def test_truncations_never_crash(tmp_path: Path) -> None:
    docx = make_docx(malformed_dexter())
    font = malformed_dexter()
    for cut in range(0, len(font), 37):
        _scan(tmp_path, "t.ttf", font[:cut])
    for cut in range(0, len(docx), 97):
        _scan(tmp_path, "t.docx", docx[:cut])


def test_is_document(tmp_path: Path) -> None:
    p = tmp_path / "a.ttf"
    p.write_bytes(make_font())
    q = tmp_path / "notes"
    q.write_bytes(b"hello")
    assert is_document(p) and not is_document(q)


def _docx(document: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    import io
    import zipfile

    types = (
        b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        b'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="'
        b'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        b"</Types>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("word/document.xml", document)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_DDE_BODY = (
    b'<w:body><w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>'
    b'DDEAUTO inert-app topic</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/>'
    b"</w:r></w:p></w:body>"
)


@pytest.mark.parametrize(
    ("name", "document", "extra", "skipped"),
    [
        ("clean", b"<w:document " + _W + b"><w:body><w:p/></w:body></w:document>", None, True),
        (
            "emf-image",  # binary parts starting with a NUL byte are not UTF-16 XML
            b"<w:document " + _W + b"><w:body><w:p/></w:body></w:document>",
            {"word/media/image1.emf": b"\x01\x00\x00\x00l\x00\x00\x00" * 8},
            True,
        ),
        ("dde", b"<w:document " + _W + b">" + _DDE_BODY + b"</w:document>", None, False),
        (
            "dde-utf16",  # the element names are not ASCII bytes: msodde runs
            ('<?xml version="1.0" encoding="UTF-16"?><w:document ' + _W.decode() + ">").encode(
                "utf-16"
            )
            + _DDE_BODY.decode().encode("utf-16-le")
            + "</w:document>".encode("utf-16-le"),
            None,
            False,
        ),
        (
            "dde-entity",  # an internal entity spells instrText with character references
            b'<!DOCTYPE d [<!ENTITY f "&#60;w:instr&#84;ext>DDEAUTO inert-app topic&#60;/w:instr'
            b'&#84;ext>">]><w:document '
            + _W
            + b'><w:body><w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r>&f;</w:r><w:r>'
            b'<w:fldChar w:fldCharType="end"/></w:r></w:p></w:body></w:document>',
            None,
            False,
        ),
    ],
)
def test_docx_dde_precheck_agrees_with_msodde(
    tmp_path: Path, name: str, document: bytes, extra: dict[str, bytes] | None, skipped: bool
) -> None:
    """msodde is skipped only for packages where it cannot report a DDE field; whatever it
    reports is what the scan reports (inert DDE text: no real program)."""
    from oletools import msodde

    from duqhunt.detectors.doc.parsergate import msodde_finds_nothing_in_zip
    from duqhunt.sources.office.limits import DocLimits

    data = _docx(document, extra)
    assert msodde_finds_nothing_in_zip(data, DocLimits()) is skipped
    res = _scan(tmp_path, f"{name}.docx", data)
    want = msodde.process_file(str(tmp_path / f"{name}.docx"), msodde.FIELD_FILTER_DDE).strip()
    got = _checks(res).get("DQ-DOC-012", [])
    assert got == ([f"high|{name}.docx|DDE link: {want[:200]!r}"] if want else [])
    assert bool(want) is (name != "clean" and name != "emf-image")


@pytest.mark.parametrize(
    ("name", "text", "skipped"),
    [
        ("clean", b"\x13 PAGE \x141\x15 text", True),
        ("dde", b"\x13 DDEAUTO inert-app topic\x14x\x15", False),
        ("dde-utf16", b"\x13\x00D\x00D\x00E\x00 inert-app\x15", False),
        ("dde-orphan", None, False),  # the field is in a stream no directory tree lists
    ],
)
def test_doc_dde_precheck_agrees_with_msodde(
    tmp_path: Path, name: str, text: bytes | None, skipped: bool
) -> None:
    from oletools import msodde

    from duqhunt.detectors.doc.parsergate import msodde_finds_nothing_in_ole

    if text is None:
        data = make_cfb({"WordDocument": bytes(word_fib()), "Orphan": b"\x13DDE inert\x15"})
        # the builder chains entries as right siblings: clear WordDocument's (entry 1, right
        # sibling at +0x48) so that the Orphan entry is in no tree
        sib = data.find("WordDocument".encode("utf-16-le")) + 0x48
        data = data[:sib] + b"\xff\xff\xff\xff" + data[sib + 4 :]
    else:
        data = make_ole_doc(text)
    assert msodde_finds_nothing_in_ole(data) is skipped
    res = _scan(tmp_path, f"{name}.doc", data)
    want = msodde.process_file(str(tmp_path / f"{name}.doc"), msodde.FIELD_FILTER_DDE).strip()
    got = _checks(res).get("DQ-DOC-012", [])
    assert got == ([f"high|{name}.doc|DDE link: {want[:200]!r}"] if want else [])
    assert bool(want) is (name != "clean")


def _biff(rtype: int, body: bytes) -> bytes:
    return struct.pack("<HH", rtype, len(body)) + body


def test_excel_workbook_with_filepass_is_encrypted_and_without_it_is_not(tmp_path: Path) -> None:
    """MS-XLS: a BIFF8 Workbook stream whose BOF (0x0809) is followed by a FILEPASS record
    (0x002F; here XOR obfuscation, wEncryptionType 0, with a key and verifier) is encrypted: the
    scan says so (DQ-DOC-015, verdict "encrypted") and reads no further. The same stream without
    FILEPASS is a plain workbook."""
    bof = _biff(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x0006))
    filepass = _biff(0x002F, struct.pack("<HHH", 0, 0x1234, 0x5678))
    eof = _biff(0x000A, b"")
    enc = _scan(tmp_path, "locked.xls", make_cfb({"Workbook": bof + filepass + eof}))
    assert enc.verdict.verdict == "encrypted" and enc.kind == "ole-encrypted"
    assert _checks(enc)["DQ-DOC-015"] == [
        "info|locked.xls|document is encrypted; contents not analysed"
    ]
    plain = _scan(tmp_path, "open.xls", make_cfb({"Workbook": bof + eof}))
    assert plain.verdict.verdict == "clean" and "DQ-DOC-015" not in _checks(plain)


def test_xps_font_part_named_by_its_guid_is_deobfuscated_and_analysed(tmp_path: Path) -> None:
    """XPS (ECMA-388) keeps an embedded font as an obfuscated part named by its GUID, with no
    Word relationship pointing at it: the key comes from the part name. The Duqu font inside is
    found there like in a .docx."""
    guid = uuid.UUID("0b5a6c1e-2d3f-4a5b-8c7d-9e0f1a2b3c4d")
    part = f"Documents/1/Resources/Fonts/{str(guid).upper()}.odttf"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Default Extension="odttf" ContentType="application/'
            'vnd.ms-package.obfuscated-opentype"/></Types>',
        )
        z.writestr(part, odttf(malformed_dexter(), guid))
    res = _scan(tmp_path, "doc.xps", buf.getvalue())
    c = _checks(res)
    assert any(f"doc.xps/{part}, table fpgm" in x for x in c["DQ-DOC-004"]), c
    assert any("'Dexter Regular' matches the Duqu installer font" in x for x in c["DQ-DOC-008"])
    assert res.verdict.verdict == "malicious"


@pytest.mark.parametrize(
    "code",
    [
        bytes([0xB0, 9, 0x20, 0x21, 0x2B]),  # PUSHB[0] 9, DUP, POP, CALL
        bytes([0xB1, 1, 9, 0x23, 0x21, 0x2B]),  # PUSHB[1] 1 9, SWAP, POP, CALL
    ],
)
def test_dup_and_swap_keep_the_values_they_move(code: bytes) -> None:
    """TrueType: DUP (0x20) pushes a copy of the top element, SWAP (0x23) exchanges the top two.
    The value left under the top after either is still known: POP then CALL calls function 9,
    outside maxp.maxFunctionDefs=4."""
    st = FontCodeState(max_function_defs=4, max_stack=8, max_storage=1)
    got = [(i.kind, i.message) for i in scan_program(code, "glyph", st)]
    assert [k for k, _ in got] == ["function-limit"], got
    assert "CALL of function 9" in got[0][1]


def _zip_with_flags(members: dict[str, tuple[bytes, int]]) -> bytes:
    """A zip of stored members, each with these general purpose bit flags set in its local
    and central directory headers (APPNOTE 4.4.4: bit 0 = encrypted, bits 1-2 = compression
    options, meaningless for stored data)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, (data, _flags) in members.items():
            zf.writestr(name, data)
    raw = bytearray(buf.getvalue())
    for name, (_data, flags) in members.items():
        enc = name.encode()
        for sig, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
            at = 0
            while True:
                at = raw.index(sig, at)
                if raw[at + name_at : at + name_at + len(enc)] == enc:
                    struct.pack_into("<H", raw, at + flag_at, flags)
                    break
                at += 4
    return bytes(raw)


def test_zip_member_encryption_is_read_from_flag_bit_0(tmp_path: Path) -> None:
    """A member with general purpose bit 0 is encrypted: not analysed, and the scan says so;
    bit 1 (a compression option) says nothing about encryption: that member is analysed."""
    pe = b"MZ" + bytes(58) + struct.pack("<I", 64) + b"PE\x00\x00" + bytes(200)
    data = _zip_with_flags({"locked.bin": (pe, 0x1), "open.bin": (pe, 0x2)})
    checks = _checks(_scan(tmp_path, "two.zip", data))
    encrypted = [c for cs in checks.values() for c in cs if "is encrypted" in c]
    assert encrypted == ["info|two.zip/locked.bin|zip member is encrypted; not analysed"]
    assert not any("locked.bin" in c for cs in checks.values() for c in cs if c not in encrypted)


def test_ppt_font_records_are_found_by_their_record_header() -> None:
    """MS-PPT RecordHeader (recVer/recInstance u16, recType u16, recLen u32): a
    RT_FontEmbedDataBlob (0x0FB8) record whose body is an EOT (MagicNumber 'LP' at 34) is
    found at its header's offset; another record type is not."""
    body = bytes(34) + b"LP" + bytes(64)
    font = struct.pack("<HHI", 0x0000, 0x0FB8, len(body)) + body
    other = struct.pack("<HHI", 0x000F, 0x0FB9, len(body)) + body
    stream = bytes(10) + font + other + bytes(4)
    assert ppt_font_records(stream) == [10]


def test_docx_field_that_is_not_dde_is_not_reported_as_dde(tmp_path: Path) -> None:
    """msodde runs on a package with any field (w:instrText), but only a DDE/DDEAUTO field is
    a DDE link: a PAGE field is not reported."""
    from duqhunt.detectors.doc.parsergate import msodde_finds_nothing_in_zip
    from duqhunt.sources.office.limits import DocLimits

    body = _DDE_BODY.replace(b"DDEAUTO inert-app topic", b" PAGE ")
    data = _docx(b"<w:document " + _W + b">" + body + b"</w:document>")
    assert not msodde_finds_nothing_in_zip(data, DocLimits())  # msodde reads it
    assert "DQ-DOC-012" not in _checks(_scan(tmp_path, "page.docx", data))


def test_font_parts_of_a_presentation_are_analysed(tmp_path: Path) -> None:
    """PowerPoint keeps embedded fonts as parts under ppt/fonts/ (.fntdata): each is analysed
    as a font, its findings located in that part."""
    document = b"<w:document " + _W + b"><w:body><w:p/></w:body></w:document>"
    data = _docx(document, {"ppt/fonts/font1.fntdata": malformed_dexter()})
    c = _checks(_scan(tmp_path, "deck.pptx", data))
    assert any("deck.pptx/ppt/fonts/font1.fntdata, table fpgm" in x for x in c["DQ-DOC-004"]), c


def _ole1_embedded(cls: bytes, native: bytes) -> bytes:
    """An OLE 1.0 EmbeddedObject ([MS-OLEDS] 2.2.4): OLEVersion, FormatID 2 (embedded),
    ClassName, empty TopicName and ItemName, NativeDataSize, NativeData."""
    name = cls + b"\x00"
    head = struct.pack("<III", 0x00000501, 2, len(name)) + name + struct.pack("<II", 0, 0)
    return head + struct.pack("<I", len(native)) + native


@pytest.mark.parametrize("native", [b"", b"abcd"])
def test_rtf_ole_object_says_its_class_and_native_data_size(tmp_path: Path, native: bytes) -> None:
    """An RTF \\object's \\objdata holds an OLE 1.0 object: the finding names its class and
    NativeDataSize (0 for an empty one)."""
    objdata = _ole1_embedded(b"Paint.Picture", native).hex().encode()
    rtf = b"{\\rtf1{\\object\\objemb{\\*\\objclass Paint.Picture}{\\*\\objdata " + objdata + b"}}}"
    c = _checks(_scan(tmp_path, "ole.rtf", rtf))
    assert [x.split("|")[2] for x in c["DQ-DOC-013"]] == [
        f"embedded OLE object class 'Paint.Picture' ({len(native)} bytes)"
    ]


def test_relationships_are_read_as_opc_writes_them() -> None:
    """ECMA-376 Part 2 (OPC) 9.3: each Relationship has an Id, a Type URI (its last segment
    names the kind), a Target and TargetMode External for a target outside the package. One
    without an Id (not valid OPC) is kept with an empty id: nothing can reference it."""
    from duqhunt.sources.office.ooxml import parse_rels

    xml = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/attachedTemplate" Target="http://198.51.100.7/t.dotm" TargetMode="External"/>'
        b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'font" Target="fonts/font1.odttf"/>'
        b"</Relationships>"
    )
    rels = parse_rels(xml, "word/_rels/settings.xml.rels", "d.docx")
    assert [(r.rid, r.type, r.target, r.external) for r in rels] == [
        ("rId7", "attachedTemplate", "http://198.51.100.7/t.dotm", True),
        ("", "font", "fonts/font1.odttf", False),
    ]
