"""DQ-NET-003: the Duqu C&C protocol's shapes in http.log and files.log."""

from __future__ import annotations

import math

from duqhunt.detectors.base import HuntContext, NetworkDetector, load_sql
from duqhunt.detectors.outputs import JpegPost, RareUserAgent
from duqhunt.model import Evidence, Finding, iso_utc

_JPEG = load_sql(__package__ or "duqhunt.detectors.net", "jpeg_post.sql")
_UA = load_sql(__package__ or "duqhunt.detectors.net", "rare_ua.sql")
_PROXIES = load_sql(__package__ or "duqhunt.detectors.net", "proxies.sql")


class DuquHttpDetector(NetworkDetector):
    """Two request shapes of Duqu's HTTP C&C protocol, with or without any known indicator.

    Rule ``jpeg-post-bare-ip``: POST / to a Host that is a bare IP address, uploading a part
    whose MIME type is image/jpeg (Duqu hides its data in a JPEG). Rule ``rare-user-agent``: a
    host whose HTTP traffic mostly uses its real browser's User-Agent also sends a User-Agent
    that few hosts in the environment use, to few destinations (Duqu's hard-coded Firefox 3.6.9
    string beside Internet Explorer or a modern browser).

    Requests through an explicit web proxy (absolute URI to an internal proxy) count for the
    client and the address they name. A destination that more than max(3, 1 % of the internal
    hosts) upload JPEGs to this way is a shared upload service (IP cameras posting snapshots,
    a photo kiosk): its findings are low, not high, and it gives no C&C.

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
        rows = ctx.engine.query(_JPEG).to_pylist()
        # the proxy's own upstream requests are its clients' (attributed by the SQL)
        proxies = {str(r["ip"]) for r in ctx.engine.query(_PROXIES).to_pylist()}
        client_dsts = {r["dst"] for r in rows if r["src"] not in proxies}
        rows = [r for r in rows if not (r["src"] in proxies and r["dst"] in client_dsts)]
        uploaders: dict[str, set[str]] = {}
        for r in rows:
            uploaders.setdefault(str(r["dst"]), set()).add(str(r["src"]))
        rare = max(3, math.ceil(0.01 * max(ctx.internal_hosts, 1)))
        shared_upload = {d for d, srcs in uploaders.items() if len(srcs) > rare}
        posts: list[JpegPost] = []
        for r in rows:
            n_up = len(uploaders[str(r["dst"])])
            common = r["dst"] in shared_upload
            confidence = 0.3 if common else (0.8 if r["uploads"] >= 3 else 0.6)
            posts.append(
                JpegPost(str(r["src"]), str(r["dst"]), int(r["uploads"]), confidence, common)
            )
            findings.append(
                self.finding(
                    ("jpeg-post-bare-ip", r["src"], r["dst"]),
                    f"{r['src']} uploads JPEG data by POST / to bare IP {r['dst']}",
                    "low" if common else "high",
                    confidence,
                    (r["src"],),
                    r["first_ts"],
                    r["last_ts"],
                    (
                        Evidence(
                            source="http.log",
                            locator=f"uid {r['example_uid']}",
                            summary=(
                                f"{r['uploads']} image/jpeg upload(s) in {r['sessions']} POST / "
                                f"request(s) to Host {r['dst']}, {r['bytes_up']} bytes up, "
                                f"User-Agent {r['user_agent']!r}, {iso_utc(r['first_ts'])} to "
                                f"{iso_utc(r['last_ts'])}"
                                + (" (through a web proxy)" if r["via_proxy"] else "")
                                + (
                                    f"; {n_up} internal hosts upload JPEGs to it: a shared "
                                    "upload service, not one implant"
                                    if common
                                    else ""
                                )
                            ),
                        ),
                    ),
                    (
                        ("rule", "jpeg-post-bare-ip"),
                        ("dst", r["dst"]),
                        ("uploads", int(r["uploads"])),
                        ("bytes_up", int(r["bytes_up"] or 0)),
                        ("uploaders", n_up),
                    ),
                    attack=("T1071.001", "T1001.002"),
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
        ua_rows = ua.to_pylist()
        for r in ua_rows:
            findings.append(
                self.finding(
                    ("rare-user-agent", r["src"], r["user_agent"]),
                    f"{r['src']} sends a rare second User-Agent to {r['dsts']} destination(s)",
                    "medium",
                    0.6,
                    (r["src"],),
                    r["first_ts"],
                    r["last_ts"],
                    (
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
                    (
                        ("rule", "rare-user-agent"),
                        ("user_agent", r["user_agent"]),
                        ("requests", int(r["n"])),
                        ("ua_hosts", int(r["ua_hosts"])),
                    ),
                    attack=("T1071.001",),
                )
            )
        ctx.outputs.jpeg_posts = tuple(posts)
        ctx.outputs.rare_user_agents = tuple(
            RareUserAgent(str(r["src"]), str(r["user_agent"]), str(r["example_dst"]))
            for r in ua_rows
        )
        return findings
