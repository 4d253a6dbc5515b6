"""DQ-HOST-014: one code family under several names across hosts; known families by reference."""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from duqhunt.detectors.host.base import HostContext, HostDetector, windows_path
from duqhunt.model import Evidence, Finding

log = logging.getLogger(__name__)

#: at most this many PE files of a scan are compared (largest scans: a warning says so)
MAX_FAMILY_FILES = 2000


class CodeFamilies(HostDetector):
    """Drivers and executables found on the hosts, compared by code and whole-file fuzzy hashes
    (duqhunt.similarity): a family whose members carry two or more file names on two or more
    hosts is reported once ("one driver family on 11 hosts under 11 names"), which is how Duqu's
    per-victim drivers (jminet7.sys, cmi4432.sys, ...) look; a file that matches a reference
    family (content/similarity packs) is reported with the pack's source.

    Severity: medium for a renamed family (high when its members are drivers), high for a
    reference match. Misses: families recompiled beyond recognition (different compiler, heavy
    obfuscation), packed files (whole-file hashes only), more than MAX_FAMILY_FILES files (the
    rest are not compared; a warning says so). False positives: one vendor's driver shipped
    under per-product names (e.g. OEM-renamed network drivers); check the signer.
    """

    id = "DQ-HOST-014"
    title = "One code family under several names"
    stage = "installation"
    attack = ("T1036.005", "T1543.003")
    sources = ("pe",)

    def run(self, ctx: HostContext) -> list[Finding]:
        from duqhunt.similarity import analyse, to_document

        owners: dict[str, tuple[str, str]] = {}  # path -> (host, windows path)
        for h in ctx.hosts:
            for f, _pe in h.pe:
                owners.setdefault(str(f.path), (h.host, windows_path(f.rel)))
        if len(owners) < 2:
            return []
        paths = sorted(owners)[:MAX_FAMILY_FILES]
        if len(owners) > MAX_FAMILY_FILES:
            log.warning("DQ-HOST-014 compared %d of %d PE files", MAX_FAMILY_FILES, len(owners))
        doc = to_document(analyse([Path(p) for p in paths]))
        findings: list[Finding] = []
        for c in doc["clusters"]:
            members = [m for m in c["members"] if m in owners]
            hosts = sorted({owners[m][0] for m in members})
            names = sorted(
                {PurePosixPath(owners[m][1].replace("\\", "/")).name.lower() for m in members}
            )
            if len(hosts) < 2 or len(names) < 2:
                continue  # one name everywhere is a deployment, one host is one install
            drivers = all(n.endswith(".sys") for n in names)
            kind = "driver" if drivers else "executable"
            shares = c["shares"]
            findings.append(
                self.finding(
                    tuple(sorted(members)),
                    f"One {kind} family on {len(hosts)} hosts under {len(names)} names",
                    "high" if drivers else "medium",
                    0.8 if drivers else 0.6,
                    tuple(hosts),
                    None,
                    None,
                    tuple(
                        Evidence(
                            source="duqhunt similar",
                            locator=f"{owners[m][0]}: {owners[m][1]}",
                            summary=f"sha256 {_sha(doc, m)}",
                        )
                        for m in members[:50]
                    ),
                    (
                        ("names", ", ".join(names[:20])),
                        ("files", len(members)),
                        ("hosts", len(hosts)),
                        ("shared_functions", int(shares.get("functions_in_every_member") or 0)),
                        ("imphash", shares.get("imphash")),
                        ("signer", shares.get("signer")),
                    ),
                )
            )
        for m in doc["matches"]:
            if m["file"] not in owners:
                continue
            host, where = owners[m["file"]]
            findings.append(
                self.finding(
                    (m["family"], m["sha256"]),
                    f"{PurePosixPath(where.replace(chr(92), '/')).name} matches the known "
                    f"family {m['family']}",
                    "high",
                    min(1.0, float(m["score"]) * float(m["confidence"])),
                    host,
                    None,
                    None,
                    [
                        Evidence(
                            source=f"reference pack {m['pack']}",
                            locator=where,
                            summary="; ".join(m["basis"]) + f" (source: {m['source']})",
                        )
                    ],
                    {"family": m["family"], "score": m["score"], "sha256": m["sha256"]},
                )
            )
        return findings


def _sha(doc: dict[str, object], path: str) -> str:
    for f in doc["files"]:  # type: ignore[attr-defined]
        if f["path"] == path:
            return str(f["sha256"])
    return "?"


__all__ = ["CodeFamilies"]
