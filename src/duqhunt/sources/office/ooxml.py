"""OOXML parts as data: relationships, Word's fontTable.xml and the obfuscated .odttf fonts."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as DET

from duqhunt.errors import InputError

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PR = "{http://schemas.openxmlformats.org/package/2006/relationships}"
EMBED_KINDS = ("embedRegular", "embedBold", "embedItalic", "embedBoldItalic")
_GUID = re.compile(
    r"^\{?([0-9A-Fa-f]{8})-?([0-9A-Fa-f]{4})-?([0-9A-Fa-f]{4})-?([0-9A-Fa-f]{4})-?([0-9A-Fa-f]{12})\}?$"
)


@dataclass(frozen=True, slots=True)
class Relationship:
    part: str  # the .rels part
    rid: str
    type: str
    target: str
    external: bool


@dataclass(frozen=True, slots=True)
class EmbeddedFontRef:
    font_name: str
    kind: str
    rid: str
    key: str
    target: str | None


def parse_xml(data: bytes, path: str, where: str) -> Element:
    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)  # type: ignore[no-any-return]
    except Exception as exc:  # defusedxml raises its own and ParseError
        raise InputError(path, f"{where}: XML not parsed ({type(exc).__name__}: {exc})") from None


def parse_rels(data: bytes, part: str, path: str) -> list[Relationship]:
    root = parse_xml(data, path, part)
    out = []
    for el in root.iter(f"{PR}Relationship"):
        out.append(
            Relationship(
                part,
                el.get("Id", ""),
                el.get("Type", "").rsplit("/", 1)[-1],
                el.get("Target", ""),
                el.get("TargetMode", "") == "External",
            )
        )
    return out


def rels_source_dir(rels_part: str) -> str:
    """'word/_rels/fontTable.xml.rels' -> 'word'."""
    d = posixpath.dirname(posixpath.dirname(rels_part))
    return d


def resolve(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return (
        posixpath.normpath(posixpath.join(base_dir, target)).lstrip("./")
        if base_dir
        else posixpath.normpath(target)
    )


def font_refs(font_table: bytes, rels: list[Relationship], path: str) -> list[EmbeddedFontRef]:
    root = parse_xml(font_table, path, "word/fontTable.xml")
    by_id = {r.rid: r for r in rels}
    out = []
    for font in root.iter(f"{W}font"):
        name = font.get(f"{W}name", "")
        for kind in EMBED_KINDS:
            el = font.find(f"{W}{kind}")
            if el is None:
                continue
            rid = el.get(f"{R}id", "")
            key = el.get(f"{W}fontKey", "")
            rel = by_id.get(rid)
            target = resolve("word", rel.target) if rel and not rel.external else None
            out.append(EmbeddedFontRef(name, kind, rid, key, target))
    return out


def guid_key(guid: str) -> bytes | None:
    m = _GUID.match(guid.strip())
    if not m:
        return None
    return bytes.fromhex("".join(m.groups()))[::-1]


def deobfuscate(data: bytes, key: bytes) -> bytes:
    """ECMA-376 Part 1, 17.8.1: XOR the first 32 bytes with the reversed GUID bytes."""
    head = bytes(b ^ key[i % 16] for i, b in enumerate(data[:32]))
    return head + data[32:]
