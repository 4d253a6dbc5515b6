"""Registry detectors over offline hives: Duqu services and values, odd driver paths, the
CF1D value under Internet Settings\\Zones\\4, and MS11-087 posture."""

from __future__ import annotations

import re

from duqhunt.detectors.host.base import HostContext, HostDetector
from duqhunt.model import Evidence, Finding
from duqhunt.model.finding import Severity

_DRIVER_DIR = re.compile(
    r"^(\\systemroot\\|%systemroot%\\|\\\?\?\\c:\\windows\\|c:\\windows\\)?system32\\drivers\\",
    re.I,
)


def normal_driver_path(image_path: str) -> bool:
    p = image_path.strip().strip('"').lower()
    return (
        not p
        or bool(_DRIVER_DIR.match(p))
        or p.startswith(("system32\\", "\\systemroot\\system32\\"))
    )


def _same_image(image_path: str, genuine: str) -> bool:
    p = image_path.strip().strip('"').lower()
    for prefix in ("\\systemroot\\", "%systemroot%\\", "c:\\windows\\", "\\??\\c:\\windows\\"):
        if p.startswith(prefix):
            p = p[len(prefix) :]
    return p == genuine.lower()


class DuquServices(HostDetector):
    """Services in the SYSTEM hive that match Duqu: the JmiNET3 / cmi4432 / ALiIDE names, a
    FILTER value under a driver's key, an ImagePath to a Duqu driver file, and kernel drivers
    loaded from outside System32\\drivers.

    Misses: services renamed per victim (Duqu 2.0 used per-target names); drivers loaded
    without a service key.
    False positives: kernel drivers of security and virtualisation products installed in their
    own folders (reported low unless other signs agree).
    """

    id = "DQ-HOST-006"
    title = "Duqu-like service in the registry"
    stage = "installation"
    attack = ("T1543.003", "T1014")
    sources = ("registry",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        names = {s.name.lower(): s for s in ctx.pack.services}
        values = {v.name.lower(): v for v in ctx.pack.service_values}
        files = {f.name.lower(): f for f in ctx.pack.files if f.kind == "driver"}
        for h in ctx.hosts:
            for hf_file, hf in h.hives:
                for s in hf.services:
                    why: list[str] = []
                    conf = 0.0
                    ind = names.get(s.name.lower())
                    genuine = bool(ind and ind.genuine_image) and _same_image(
                        s.image_path, ind.genuine_image if ind else ""
                    )
                    if ind is not None and not genuine:
                        why.append(f"Duqu service name {s.name}")
                        conf = max(conf, names[s.name.lower()].confidence)
                    fname = s.image_path.replace("/", "\\").rsplit("\\", 1)[-1].lower().strip('"')
                    if fname in files:
                        why.append(f"ImagePath to Duqu driver {fname}")
                        conf = max(conf, files[fname].confidence)
                    vals = [v for v in s.value_names if v.lower() in values]
                    if vals and s.kernel:
                        why.append(f"{vals[0]} value under a driver's service key")
                        conf = max(conf, values[vals[0].lower()].confidence)
                    odd_path = s.kernel and not normal_driver_path(s.image_path)
                    if odd_path:
                        why.append("kernel driver outside System32\\drivers")
                        conf = max(conf, 0.3)
                    if not why:
                        continue
                    sev: Severity
                    if conf >= 0.85 or len(why) >= 2:
                        sev = "critical" if len(why) >= 2 else "high"
                    elif odd_path and len(why) == 1:
                        sev = "low"
                    else:
                        sev = "medium"
                    out.append(
                        self.finding(
                            (s.key_path.lower(),),
                            f"service {s.name}: {'; '.join(why)}",
                            sev,
                            min(1.0, conf + 0.05 * (len(why) - 1)),
                            h.host,
                            s.last_write,
                            s.last_write,
                            [
                                Evidence(
                                    source=str(hf_file.path),
                                    locator=s.key_path,
                                    summary=f"ImagePath={s.image_path!r}",
                                )
                            ],
                            {
                                "service": s.name,
                                "image_path": s.image_path,
                                "type": s.type,
                                "start": s.start,
                                "reasons": "; ".join(why),
                                "parser": hf.parser,
                            },
                        )
                    )
        return out


class ZoneMarker(HostDetector):
    """The CF1D (or CFID) value under Internet Settings\\Zones\\4, where Duqu's dropper kept
    its infection marker and configuration (SOFTWARE or a user's NTUSER.DAT).

    Misses: other marker locations of later variants.
    False positives: none known; Zones\\4 holds numeric policy values named 1001..2700.
    """

    id = "DQ-HOST-007"
    title = "Duqu marker value under Internet Settings Zones\\4"
    stage = "installation"
    attack = ("T1112",)
    sources = ("registry",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        wanted = {v.name.lower(): v for v in ctx.pack.zone_values}
        for h in ctx.hosts:
            for hf_file, hf in h.hives:
                for z in hf.zone_values:
                    ind = wanted.get(z.value.lower())
                    if ind is None:
                        continue
                    out.append(
                        self.finding(
                            (hf_file.rel.lower(), z.key.lower(), z.value.lower()),
                            f"value {z.value} under {hf.kind}\\{z.key}",
                            "critical",
                            ind.confidence,
                            h.host,
                            z.last_write,
                            z.last_write,
                            [
                                Evidence(
                                    source=str(hf_file.path),
                                    locator=f"{z.key}\\{z.value}",
                                    summary=f"{z.size} bytes",
                                )
                            ],
                            {
                                "hive": hf.kind,
                                "key": z.key,
                                "value": z.value,
                                "size": z.size,
                                "source": ind.source,
                            },
                        )
                    )
        return out


class FontPosture(HostDetector):
    """Posture: is MS11-087 (KB2639417, the TrueType flaw Duqu's dropper used) installed, and is
    the t2embed.dll workaround (advisory 2639658) in place? Reported from the SOFTWARE hive.

    info when patched; medium when neither patch nor workaround is seen; low when only the
    workaround is. The workaround is an ACL on t2embed.dll, which a copied triage folder does
    not keep: it is inferred as "applied" only when the file is absent or unreadable.
    Misses: patches recorded only in WMI/CBS logs; superseding cumulative updates (a later
    rollup that contains the fix shows as "not installed" here).
    False positives: systems patched by a superseding update (see Misses); systems not affected
    (Windows 8 and later).
    """

    id = "DQ-HOST-008"
    title = "MS11-087 (Duqu TrueType flaw) patch posture"
    stage = "posture"
    attack = ("T1203", "T1068")
    sources = ("registry",)

    def run(self, ctx: HostContext) -> list[Finding]:
        out = []
        for h in ctx.hosts:
            sw = [(f, hf) for f, hf in h.hives if hf.kind == "SOFTWARE"]
            if not sw:
                continue
            f, hf = sw[0]
            for item in ctx.pack.posture:
                installed = sorted(k for k in item.kbs if k.upper() in hf.kbs)
                workaround = h.t2embed in ("absent", "unreadable")
                sev: Severity
                if installed:
                    sev, state = "info", f"{', '.join(installed)} installed"
                elif workaround:
                    sev, state = (
                        "low",
                        f"not installed; workaround likely (t2embed.dll {h.t2embed})",
                    )
                else:
                    sev, state = "medium", "not installed, no workaround seen"
                out.append(
                    self.finding(
                        (item.id,),
                        f"{item.id}: {state}",
                        sev,
                        0.7 if installed else 0.5,
                        h.host,
                        None,
                        None,
                        [
                            Evidence(
                                source=str(f.path),
                                locator="Component Based Servicing\\Packages; HotFix; Updates",
                                summary=state,
                            )
                        ],
                        {
                            "bulletin": item.id,
                            "kbs": ",".join(item.kbs),
                            "installed": bool(installed),
                            "t2embed": h.t2embed,
                            "workaround": workaround,
                            "product": hf.product,
                        },
                    )
                )
        return out
