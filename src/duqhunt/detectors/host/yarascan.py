"""YARA matches over the host's files (duqhunt's Duqu rules plus the user's rule packs)."""

from __future__ import annotations

from duqhunt.detectors.host.base import HostContext, HostDetector, windows_path
from duqhunt.model import Evidence, Finding
from duqhunt.model.finding import Severity


class YaraMatches(HostDetector):
    """Files matching a YARA rule: duqhunt's own Duqu rules (content/yara/duqu.yar: the fake
    vendor strings of the loader drivers, the \\Device\\Gpd0 / \\DosDevices\\GpdDev device
    names) and any user rule pack. Severity comes from the rule's ``severity`` meta, else high
    for duqhunt rules and medium for user rules.

    Misses: packed or encrypted files (the .pnf main module is encrypted: see DQ-HOST-001).
    False positives: as good as the rules; our string rules can hit analysis reports or
    detection content stored on the host.
    """

    id = "DQ-HOST-012"
    title = "YARA rule match"
    stage = "installation"
    attack = ("T1027", "T1036.005")
    sources = ("files",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        for h in ctx.hosts:
            for hit in h.yara:
                meta = dict(hit.meta)
                own = hit.namespace == "duqhunt"
                sev_meta = meta.get("severity", "")
                sev: Severity = "high" if own else "medium"
                if sev_meta in ("info", "low", "medium", "high", "critical"):
                    sev = sev_meta  # type: ignore[assignment]
                try:
                    conf = float(meta.get("confidence", "0.7" if own else "0.5"))
                except ValueError:
                    conf = 0.5
                out.append(
                    self.finding(
                        (hit.file.rel.lower(), hit.namespace, hit.rule),
                        f"{hit.file.name} matches YARA rule {hit.rule}",
                        sev,
                        min(1.0, max(0.0, conf)),
                        h.host,
                        hit.file.mtime,
                        hit.file.mtime,
                        [
                            Evidence(
                                source=str(hit.file.path),
                                locator=windows_path(hit.file.rel),
                                summary=", ".join(hit.strings[:5]),
                            )
                        ],
                        {
                            "rule": hit.rule,
                            "namespace": hit.namespace,
                            "file": windows_path(hit.file.rel),
                            "strings": ", ".join(hit.strings[:10]),
                            "description": meta.get("description"),
                        },
                    )
                )
        return out
