"""The document detectors: stable ids, stage, ATT&CK ids, and one emitter that builds findings.

Document analysis is a single pass over each file (sources/office parses, detectors/doc checks),
so a document detector is class-level metadata plus the checks that cite it; the checks call
``Emitter.emit`` with the detector class, a severity, a locator and a summary. Ids are stable and
never reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from duqhunt.detectors.contract import Detector, Registry
from duqhunt.model import Evidence, Finding, finding_id, severity_rank
from duqhunt.model.finding import Severity


class DocDetector(Detector):
    """A document detector (DQ-DOC-nnn): metadata only; the checks in fontcheck and the
    container walks cite it through ``Emitter.emit``."""

    sources: ClassVar[tuple[str, ...]] = ("document",)
    structural: ClassVar[bool] = False  # a finding of this detector means "malformed"


class FontDirectory(DocDetector):
    """Font table directory or WOFF/WOFF2 container is malformed: tables out of bounds,
    overlapping, misaligned, unsorted or duplicated tags, impossible table counts; a WOFF header
    whose length, totalSfntSize or reserved field is wrong, table data not right after the WOFF
    directory, gaps or overlaps between WOFF blocks, bytes after the last block; a WOFF2 header
    length that is not the file's.

    Misses: malformations inside a table the directory points to correctly (other checks);
    WOFF2 transforms are checked only by decoding them.
    False positives: a few old fonts have unsorted tags or unaligned tables (reported low);
    WOFF files from careless converters (e.g. a wrong totalSfntSize).
    """

    id = "DQ-DOC-001"
    title = "Malformed font table directory"
    stage = "exploitation"
    attack = ("T1203",)
    structural = True


class FontChecksum(DocDetector):
    """Table checksum or head.checkSumAdjustment does not match the data (always info).

    Misses: nothing about exploitation on its own; it is context for other findings.
    False positives: many benign fonts are edited without fixing checksums.
    """

    id = "DQ-DOC-002"
    title = "Font checksum mismatch"
    stage = "exploitation"
    attack = ("T1203",)


class FontTables(DocDetector):
    """head/maxp/hhea/hmtx/loca/glyf (and name, cmap, OS/2, post) disagree or run out of bounds;
    GDEF, GSUB and GPOS structure: sub-table offsets pointing into a header or out of the table,
    ScriptList/FeatureList/LookupList records and indexes out of range, a DFLT script without a
    DefaultLangSys, unknown lookup types and subtable formats, Coverage and ClassDef tables that
    overrun or are disordered, ItemVariationStore arrays that overrun.

    Misses: what a lookup does (values and rule contents beyond their coverage); FeatureVariations
    beyond its offset.
    False positives: fonts with sloppy but harmless metrics (e.g. numberOfHMetrics quirks); test
    fonts with glyph ids beyond numGlyphs in Coverage tables (reported low); glyphs a
    little over a maxp maximum (points +16, contours +4, instruction bytes +64) are info.
    """

    id = "DQ-DOC-003"
    title = "Inconsistent or out-of-bounds font tables"
    stage = "exploitation"
    attack = ("T1203",)
    structural = True


class FontBytecode(DocDetector):
    """TrueType hinting bytecode (fpgm, prep, glyph programs) that a rasteriser should reject:
    undefined opcodes, PUSH data past the end, unbalanced IF/ELSE/EIF or FDEF/ENDF, FDEF/IDEF
    outside fpgm/prep, IDEF redefining an opcode, calls to undefined functions, maxp limits
    exceeded, very large programs. CVE-2011-3402 was reached through such bytecode.

    Misses: values computed at run time (the decoder is static and tracks only pushed constants);
    jumps are not followed.
    False positives: hand-written hinting that relies on run-time computed function numbers.
    Many fonts push a few values more than maxp.maxStackElements (often 0): up to 16 over is
    info, up to 256 over low, more medium.
    """

    id = "DQ-DOC-004"
    title = "Anomalous TrueType hinting bytecode"
    stage = "exploitation"
    attack = ("T1203", "T1068")


class FontForeignBytes(DocDetector):
    """Bytes in a font that no table accounts for (gaps, trailing data) or high-entropy regions
    where font data should be structured.

    Misses: payloads hidden inside a table's own slack (e.g. after a glyph's declared end).
    False positives: padding written by some font tools, signed fonts with DSIG slack.
    """

    id = "DQ-DOC-005"
    title = "Non-font data inside a font"
    stage = "exploitation"
    attack = ("T1027",)


class FontShellcode(DocDetector):
    """x86/x64 shellcode traits in a font or embedded object: GetPC sequences, PEB walking,
    ror13 API-hash constants, long NOP runs.

    Misses: encoded or encrypted shellcode; traits not in content/doc/traits.yaml.
    False positives: a random match of one short trait in compressed data (one trait alone is
    medium; two or more are high).
    """

    id = "DQ-DOC-006"
    title = "Shellcode traits"
    stage = "exploitation"
    attack = ("T1203", "T1027")


class EmbeddedPE(DocDetector):
    """A Windows PE (MZ header with a valid PE signature) inside a font or document stream.

    Misses: PE files that are compressed or encrypted inside the carrier.
    False positives: documents that legitimately embed a program in an OLE Package (still worth
    a look: that is the calc.exe case).
    """

    id = "DQ-DOC-007"
    title = "Embedded Windows executable"
    stage = "delivery"
    attack = ("T1204.002", "T1027.009")


class DuquFontTraits(DocDetector):
    """Font names of the Duqu installer's embedded font ("Dexter Regular", "Showtime Inc."), from
    content/doc/traits.yaml.

    Misses: renamed fonts (the structural and bytecode checks still apply).
    False positives: a benign font that happens to use these names.
    """

    id = "DQ-DOC-008"
    title = "Duqu installer font traits"
    stage = "exploitation"
    attack = ("T1203", "T1566.001")


class FontOutlines(DocDetector):
    """CFF/CFF2/Type 1 structure and colour glyph graphs: INDEX bounds and order (32-bit counts in
    CFF2), Top/Font/Private DICT operators (and those CFF2 forbids), FDSelect, CharStrings count
    against maxp; Type 2 charstrings decoded statically (truncated operands, reserved operators,
    operand stack overflow, subroutine calls out of range or nested deeper than 10, hint masks
    past the end, no endchar in CFF); COLR v0 records and the COLR v1 paint graph (cycles, depth
    above 256, layer ranges, offsets); Multiple Master operators; oversized colour bitmap tables
    (CBDT, sbix, SVG, EBDT).

    Misses: values computed by charstring arithmetic (computed subroutine numbers are not
    followed); blends when the VariationStore is unreadable; COLR clip boxes and variation data.
    False positives: legacy Multiple Master fonts (rare today).
    """

    id = "DQ-DOC-009"
    title = "Suspicious CFF/Type 1 or bitmap font data"
    stage = "exploitation"
    attack = ("T1203",)
    structural = True


class EmbeddedFont(DocDetector):
    """A document embeds a font (info); says where it is and whether it was decoded. In a Word
    .doc the locator says how it was found: "SttbTtmbd entry N" (FIB -> SttbTtmbd -> EOT in the
    WordDocument stream) or "carved EOT N" (fallback when the SttbTtmbd yields no font).

    Misses: nothing on its own; it lists what was analysed.
    False positives: embedding fonts is legitimate (info only).
    """

    id = "DQ-DOC-010"
    title = "Embedded font"
    stage = "delivery"
    attack = ("T1566.001",)


class Macros(DocDetector):
    """VBA or Excel 4 (XLM) macros, with olevba's auto-exec and suspicious keywords; XLM
    formulas in SYLK (.slk) macro sheets through olevba's SYLK reader.

    Misses: macros in formats olevba cannot parse; obfuscation beyond olevba's decoders.
    False positives: benign business macros (medium unless auto-exec plus suspicious keywords).
    """

    id = "DQ-DOC-011"
    title = "Document macros"
    stage = "delivery"
    attack = ("T1204.002", "T1059.005")


class DDE(DocDetector):
    """DDE / DDEAUTO fields (Word, Excel, RTF, CSV), found with oletools' msodde.

    Misses: DDE in formats msodde does not read.
    False positives: legitimate DDE links (rare).
    """

    id = "DQ-DOC-012"
    title = "DDE field"
    stage = "delivery"
    attack = ("T1559.002",)


class EmbeddedObject(DocDetector):
    """Embedded OLE objects and OLE Packages (high when the package holds an executable, script
    or shortcut); RTF \\objdata objects.

    Misses: objects in formats oleobj/rtfobj cannot parse.
    False positives: legitimate embedded spreadsheets, pictures and documents (low).
    """

    id = "DQ-DOC-013"
    title = "Embedded object"
    stage = "delivery"
    attack = ("T1204.002", "T1027.006")


class ExternalReference(DocDetector):
    """External relationships (remote templates, OLE links, external images/frames).

    Misses: links built at run time by macros.
    False positives: hyperlinks (low) and legitimate linked files.
    """

    id = "DQ-DOC-014"
    title = "External relationship"
    stage = "delivery"
    attack = ("T1221",)


class Encrypted(DocDetector):
    """The document is encrypted (contents could not be analysed without the password).

    Misses: everything inside (no password guessing beyond Office's default).
    False positives: legitimately protected documents (info).
    """

    id = "DQ-DOC-015"
    title = "Encrypted document"
    stage = "delivery"
    attack = ("T1027",)


class MalformedContainer(DocDetector):
    """A container or font that cannot be parsed at all (truncated OLE, broken zip, EOT header
    out of bounds, sfnt without a table directory), and Word FIB/SttbTtmbd inconsistencies
    (SttbTtmbd outside the table stream, entries pointing outside WordDocument or at no EOT,
    ibstMac disagreeing with lcbSttbTtmbd).

    Misses: nothing; what is not parsed is also listed under "not analysed".
    False positives: damaged but benign files.
    """

    id = "DQ-DOC-016"
    title = "Malformed container or font"
    stage = "delivery"
    attack = ("T1203",)
    structural = True


class YaraMatch(DocDetector):
    """A user-supplied YARA rule matched a file or an extracted font/object.

    Misses: whatever the rules do not say.
    False positives: those of the rules.
    """

    id = "DQ-DOC-017"
    title = "YARA rule match"
    stage = "delivery"
    attack = ()
    attack_from_rules = True


DOC_DETECTORS: Registry[DocDetector] = Registry(
    "document",
    (
        FontDirectory,
        FontChecksum,
        FontTables,
        FontBytecode,
        FontForeignBytes,
        FontShellcode,
        EmbeddedPE,
        DuquFontTraits,
        FontOutlines,
        EmbeddedFont,
        Macros,
        DDE,
        EmbeddedObject,
        ExternalReference,
        Encrypted,
        MalformedContainer,
        YaraMatch,
    ),
)
STRUCTURAL_IDS = frozenset(d.id for d in DOC_DETECTORS if d.structural)


@dataclass(slots=True)
class Emitter:
    """Collects the findings of one input file; caps their number (hostile input can be noisy)."""

    source: str
    max_findings: int = 300
    # what finding ids are keyed by: the file's content hash when known (the same document
    # gives the same ids wherever it lies), else its path
    identity: str = ""
    findings: list[Finding] = field(default_factory=list)
    dropped: int = 0
    _seen: set[str] = field(default_factory=set)

    def emit(
        self,
        det: type[DocDetector],
        severity: Severity,
        locator: str,
        summary: str,
        *,
        key: str = "",
        confidence: float = 0.7,
        title: str | None = None,
        details: dict[str, str | int | float | bool | None] | None = None,
    ) -> None:
        fid = finding_id(det.id, self.identity or self.source, locator, key or summary)
        if fid in self._seen:
            return
        if len(self.findings) >= self.max_findings:
            self.dropped += 1
            return
        self._seen.add(fid)
        self.findings.append(
            det.finding(
                (self.identity or self.source, locator, key or summary),
                title or det.title,
                severity,
                confidence,
                (),
                None,
                None,
                (Evidence(source=self.source, locator=locator, summary=summary),),
                details,
            )
        )

    def max_severity(self) -> int:
        return max((severity_rank(f.severity) for f in self.findings), default=-1)
