"""DQ-NET-003: the Duqu C&C protocol's shapes in http.log and files.log."""

from __future__ import annotations

from duqhunt.detectors.base import Detector, HuntContext, load_sql
from duqhunt.model import Evidence, Finding, finding_id, iso_utc

_JPEG = load_sql(__package__ or "duqhunt.detectors.net", "jpeg_post.sql")
_UA = load_sql(__package__ or "duqhunt.detectors.net", "rare_ua.sql")


class DuquHttpDetector(Detector):
    """Two request shapes of Duqu's HTTP C&C protocol, with or without any known indicator.

    Rule ``jpeg-post-bare-ip``: POST / to a Host that is a bare IP address, uploading a part
    whose MIME type is image/jpeg (Duqu hides its data in a JPEG). Rule ``rare-user-agent``: a
    host whose HTTP traffic mostly uses its real browser's User-Agent also sends a User-Agent
    that few hosts in the environment use, to few destinations (Duqu's hard-coded Firefox 3.6.9
    string beside Internet Explorer or a modern browser).

    Misses: HTTPS (no http.log without TLS inspection); a variant that uses a host name; the
    "JPEG far larger than its image" trait, which needs the image dimensions that stock Zeek
    does not log (a sensor extracting files could add it).
    False positives: photo upload tools posting to an IP-addressed server; a second browser or an
    embedded HTTP client with an unusual User-Agent used for one internal tool.
    """

    id = "DQ-NET-003"
    title = "Duqu-style C&C request shape"
    stage = "command-and-control"
    attack = ("T1071.001", "T1001.002", "T1132")
    sources = ("http",)

    def run(self, ctx: HuntContext) -> list[Finding]:
        findings: list[Finding] = []
        jpeg = ctx.engine.query(_JPEG)
        ctx.shared["jpeg_posts"] = jpeg
        for r in jpeg.to_pylist():
            findings.append(
                Finding(
                    id=finding_id(self.id, "jpeg-post-bare-ip", r["src"], r["dst"]),
                    detector=self.id,
                    title=f"{r['src']} uploads JPEG data by POST / to bare IP {r['dst']}",
                    stage="command-and-control",
                    attack=("T1071.001", "T1001.002"),
                    severity="high",
                    confidence=0.8 if r["uploads"] >= 3 else 0.6,
                    hosts=(r["src"],),
                    first_seen=r["first_ts"],
                    last_seen=r["last_ts"],
                    evidence=(
                        Evidence(
                            source="http.log",
                            locator=f"uid {r['example_uid']}",
                            summary=(
                                f"{r['uploads']} image/jpeg upload(s) in {r['sessions']} POST / "
                                f"request(s) to Host {r['dst']}, {r['bytes_up']} bytes up, "
                                f"User-Agent {r['user_agent']!r}, {iso_utc(r['first_ts'])} to "
                                f"{iso_utc(r['last_ts'])}"
                            ),
                        ),
                    ),
                    details=(
                        ("rule", "jpeg-post-bare-ip"),
                        ("dst", r["dst"]),
                        ("uploads", int(r["uploads"])),
                        ("bytes_up", int(r["bytes_up"] or 0)),
                    ),
                )
            )
        rare_hosts = max(2, int(0.02 * max(ctx.internal_hosts, 1)))
        ua = ctx.engine.query(
            _UA,
            {
                "rare_ua_hosts": int(ctx.param("rare_ua_hosts", rare_hosts) or rare_hosts),
                "max_dsts": int(ctx.param("rare_ua_max_dsts", 3) or 3),
            },
        )
        for r in ua.to_pylist():
            findings.append(
                Finding(
                    id=finding_id(self.id, "rare-user-agent", r["src"], r["user_agent"]),
                    detector=self.id,
                    title=f"{r['src']} sends a rare second User-Agent to {r['dsts']} destination(s)",
                    stage="command-and-control",
                    attack=("T1071.001",),
                    severity="medium",
                    confidence=0.6,
                    hosts=(r["src"],),
                    first_seen=r["first_ts"],
                    last_seen=r["last_ts"],
                    evidence=(
                        Evidence(
                            source="http.log",
                            locator=f"uid {r['example_uid']}",
                            summary=(
                                f"User-Agent {r['user_agent']!r} in {r['n']} of {r['total']} "
                                f"requests (its main User-Agent reaches {r['main_dsts']} destinations), seen on "
                                f"{r['ua_hosts']} host(s) in the environment, e.g. to {r['example_dst']}"
                            ),
                        ),
                    ),
                    details=(
                        ("rule", "rare-user-agent"),
                        ("user_agent", r["user_agent"]),
                        ("requests", int(r["n"])),
                        ("ua_hosts", int(r["ua_hosts"])),
                    ),
                )
            )
        return findings
