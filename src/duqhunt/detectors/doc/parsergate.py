"""What the third-party document parsers (oletools, olefile) are handed, and when they need
not run: size and ratio checks on a zip's declared parts before a parser reads them whole,
cheap pre-checks that prove msodde can find no DDE field, one RTF parse for both rtfobj and
msodde, and the imports forked workers inherit.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

# What msodde reads in a Word-type OOXML package: the w:instrText and w:fldSimple elements.
_MSODDE_WORD_NAMES = (b"instrText", b"fldSimple")
_XML_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_ASCII_XML_ENCODINGS = frozenset(
    {
        b"utf-8",
        b"utf8",
        b"us-ascii",
        b"ascii",
        b"iso-8859-1",
        b"latin-1",
        b"latin1",
        b"cp1252",
        b"windows-1252",
    }
)
# first two bytes of UTF-16 XML (expat takes a NUL in them for UTF-16) that can start a
# document: '<' or white space; any other first character stops the parse at once
_UTF16_STARTS = frozenset(bytes(p) for c in b"< \t\r\n" for p in ((c, 0), (0, c))) | {
    b"\xff\xfe",
    b"\xfe\xff",
}


def xml_may_name(part: bytes, names: tuple[bytes, ...]) -> bool:
    """False only when no element with one of ``names`` can come out of parsing ``part``:
    the names do not occur in its bytes, it does not start as UTF-16 XML (a BOM, or '<' or
    white space with a NUL byte: binary parts such as EMF images start otherwise), declares
    no encoding outside ASCII-compatible ones and has no DTD (an internal entity can spell a
    name with character references)."""
    if any(n in part for n in names) or b"<!DOCTYPE" in part or b"<!ENTITY" in part:
        return True
    head = part[3:] if part.startswith(b"\xef\xbb\xbf") else part
    if head[:2] in _UTF16_STARTS:
        return True
    m = _XML_ENCODING.match(head)
    return m is not None and m.group(1).lower() not in _ASCII_XML_ENCODINGS


def zip_over_limits(data: bytes, limits: Any) -> str:
    """Why a zip's parts are too large to hand to a parser that reads them whole (a part
    over the member limit or the compression ratio, all parts over the unpacked limit), or
    "" (also for what is not a zip). The declared sizes bound what zipfile inflates: it
    stops at a part's declared size."""
    if not data.startswith(b"PK"):
        return ""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except Exception:  # not a readable zip: oletools will not read its parts either
        return ""
    total = 0
    for i in infos:
        total += i.file_size
        if i.file_size > limits.max_member_bytes:
            return f"part {i.filename!r} declares {i.file_size} bytes, over the member limit"
        if i.file_size > 1 << 20 and i.file_size > limits.max_ratio * max(i.compress_size, 1):
            return f"part {i.filename!r} inflates above the {limits.max_ratio}:1 ratio limit"
    if total > limits.max_total_unpacked_bytes:
        return f"parts declare {total} bytes in all, over the unpacked-size limit"
    return ""


def msodde_finds_nothing_in_zip(data: bytes, limits: Any) -> bool:
    """True when msodde.process_file on these zip bytes can report no DDE field, so it need
    not run (it re-opens the file and XML-parses every part, about half the Office time).

    msodde takes a zip that olefile and its RTF test reject to ooxml.get_type: an Excel
    package goes to process_xlsx (ddeLink elements and binary xlsb records: not pre-checked,
    msodde runs), anything else to process_docx, whose fields come only from w:instrText and
    w:fldSimple elements; if no part can hold one it returns nothing. Any doubt (get_type or
    zipfile failing, a part too large, a part not plainly ASCII-compatible XML) runs msodde."""
    from oletools import ooxml as ox

    if not data.startswith(b"PK"):
        return False
    try:
        doctype = ox.get_type(io.BytesIO(data))
        if doctype in (ox.DOCTYPE_EXCEL, ox.DOCTYPE_EXCEL_XML, ox.DOCTYPE_EXCEL_XML2003):
            return False
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            sizes = [zf.getinfo(n).file_size for n in names]
            if max(sizes, default=0) > limits.max_member_bytes or (
                sum(sizes) > limits.max_total_unpacked_bytes
            ):
                return False
            return not any(xml_may_name(zf.read(n), _MSODDE_WORD_NAMES) for n in names)
    except Exception:  # whatever get_type or zipfile raise: let msodde decide
        return False


# A field start (0x13) whose instruction text, as msodde.process_doc_stream builds it (bytes
# 10/13 become line breaks, 32..127 themselves, NUL stays, the rest '?'), starts after spaces
# and line breaks with 'dde' or its UTF-16 form, the two prefixes process_doc_field reports.
_DOC_DDE_FIELD = re.compile(rb"\x13[ \r\n]*(?:[dD][dD][eE]|\x00[dD]\x00[dD]\x00[eE]\x00)")


def msodde_finds_nothing_in_ole(data: bytes) -> bool:
    """True when msodde.process_file on these OLE bytes can report no DDE field.

    msodde takes an OLE file (by its magic) to process_xls when xls_parser.is_xls (SupBook
    records: not pre-checked, msodde runs), returns nothing for PowerPoint, and otherwise runs
    process_doc: the stream of every directory entry, orphans included, scanned for fields
    that start like _DOC_DDE_FIELD. The same streams are read here (as msodde reads them);
    if none holds such a field start, it reports nothing. Any error runs msodde."""
    import olefile
    from oletools import xls_parser

    if data[: len(olefile.MAGIC)] != olefile.MAGIC:
        return False
    try:
        if xls_parser.is_xls(io.BytesIO(data)):
            return False
        with olefile.OleFileIO(io.BytesIO(data), path_encoding=None) as of:
            for sid, entry in enumerate(of.direntries):
                if entry is None:  # not in the tree: msodde reads orphans too
                    entry = of._load_direntry(sid)
                if entry.entry_type == olefile.STGTY_STREAM:
                    stream = of._open(entry.isectStart, entry.size).read()
                    if _DOC_DDE_FIELD.search(stream):
                        return False
        return True
    except Exception:  # whatever olefile or oletools raise: let msodde decide
        return False


_KEPT_DESTINATIONS = frozenset((b"objdata", b"fldinst"))


def preload() -> None:
    """Import the libraries the walk imports lazily (oletools, olefile, fontTools' WOFF2), so
    that worker processes forked afterwards inherit them instead of importing them again."""
    import olefile  # noqa: F401
    from fontTools.ttLib import woff2  # noqa: F401
    from oletools import crypto, msodde, oleobj, olevba, ooxml, rtfobj, xls_parser  # noqa: F401


def rtf_parser(data: bytes) -> Any:
    """One pass of oletools' RTF parser for both rtfobj's objects and msodde's \\fldinst
    fields (rtfobj.RtfObjParser extended with what msodde.RtfFieldParser collects), instead
    of parsing the document twice; large text-heavy RTF files spent most of their time there."""
    from oletools import rtfobj

    class _RtfObjectsAndFields(rtfobj.RtfObjParser):  # type: ignore[misc]
        def __init__(self, raw: bytes) -> None:
            super().__init__(raw)
            self.fields: list[bytes] = []

        def close_destination(self, destination: Any) -> None:
            super().close_destination(destination)
            if destination.cword == b"fldinst":
                self.fields.append(destination.data.translate(None, b"\r\n").strip())

        def _text(self, matchobject: Any) -> None:
            # Only \objdata and \fldinst text is ever read (rtfobj and msodde drop the text
            # of every other destination, and text() does nothing): appending the document
            # text to its destination byte string by byte string was quadratic.
            dest = self.current_destination
            if dest.cword in _KEPT_DESTINATIONS:
                dest.data += matchobject.group()

        def control_symbol(self, matchobject: Any) -> None:
            # inside \fldinst as msodde (the symbol is field text); elsewhere as rtfobj
            # (which also skips the two digits after \' and cleans \objdata hex)
            if self.current_destination.cword == b"fldinst":
                self.current_destination.data += matchobject.group()[1:2]
            else:
                super().control_symbol(matchobject)

    return _RtfObjectsAndFields(data)
