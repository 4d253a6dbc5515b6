"""DQ-NET-004: new C&C discovery by profile similarity to a known-bad beacon."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from duqhunt.detectors.base import HuntContext, NetworkDetector, load_sql
from duqhunt.detectors.net.zones import with_rules
from duqhunt.detectors.outputs import Beacon, NewC2
from duqhunt.model import Evidence, Finding

_SHAPE = load_sql(__package__ or "duqhunt.detectors.net", "http_shape.sql")
# a beacon describes a C&C's protocol only when its contacts carried data: attempts a firewall
# blocked (a secure zone's hosts trying their C&C, or a public resolver, directly) all look
# alike (a SYN every few hours, no payload) and would match any other blocked address
DATA_SHARE_MIN = 0.5
_DATA_SQL = with_rules("pair_data.sql")


def _data_carrying(ctx: HuntContext, rows: list[Beacon]) -> set[tuple[str, str]]:
    """The (src, dst) beacon pairs whose contacts mostly carried data (egress_session.sql)."""
    pairs = sorted({(r.src, r.dst) for r in rows})
    ctx.engine.register_arrow(
        "new_c2_pairs",
        pa.table({"src": [p[0] for p in pairs], "dst": [p[1] for p in pairs]}),
    )
    return {
        (str(r["src"]), str(r["dst"]))
        for r in ctx.engine.query(_DATA_SQL).to_pylist()
        if int(r["data_sessions"] or 0) >= DATA_SHARE_MIN * int(r["n"])
    }


def _shape_key(s: dict[str, Any] | None) -> tuple[bool, bool, str | None]:
    if not s:
        return (False, False, None)
    req = max(int(s["requests"]), 1)
    posts_root = int(s["posts"]) / req >= 0.3 and int(s["root_uris"]) / req >= 0.5
    bare = int(s["bare_ip_hosts"]) / req >= 0.5
    ua = s["ua_min"] if s["ua_min"] == s["ua_max"] else None
    return (posts_root, bare, ua)


class NewC2Detector(NetworkDetector):
    """An external destination in no IOC pack whose beacon profile, from one or more internal
    hosts, matches a known-bad beacon's: the median interval within a band around the known
    C&C's (default 0.6x-1.6x) and the same request shape (POST / to a bare IP, the same single
    User-Agent) or, without HTTP, a similar median upload size. This is how Symantec found the
    Belgian Duqu server from the Indian one's profile.

    Needs at least one known-bad beacon (DQ-NET-002 with an indicator match) in the same case.
    Both beacons must be sessions that carried data (most of their contacts, by the egress
    rule): blocked attempts have no protocol profile to compare.
    Misses: a new server with a different protocol or interval; C&C over TLS with a different
    size profile.
    False positives: another periodic client of a similar shape (an IP-addressed upload service
    polled on the same interval).
    """

    id = "DQ-NET-004"
    title = "Candidate new C&C server"
    stage = "command-and-control"
    attack = ("T1071.001", "T1008")
    sources = ("conn", "http")

    def run(self, ctx: HuntContext) -> list[Finding]:
        rows = [b for b in ctx.outputs.beacons if b.kind == "ip"]
        known = [r for r in rows if r.known_ioc]
        if not known:
            return []
        carried = _data_carrying(ctx, rows)
        known = [r for r in known if (r.src, r.dst) in carried]
        rows = [r for r in rows if (r.src, r.dst) in carried]
        shapes = {(s["src"], s["dst"]): s for s in ctx.engine.query(_SHAPE).to_pylist()}
        ioc_ips = ctx.ioc_values("ip")
        lo = float(ctx.param("new_c2_band_low", 0.6) or 0.6)
        hi = float(ctx.param("new_c2_band_high", 1.6) or 1.6)
        findings: list[Finding] = []
        found: list[NewC2] = []
        seen: set[str] = set()
        for cand in rows:
            dst = cand.dst
            if cand.known_ioc or dst in ioc_ips or cand.periodicity < 0.6:
                continue
            cshape = _shape_key(shapes.get((cand.src, dst)))
            for ref in known:
                if not ref.interval_s or not cand.interval_s:
                    continue
                ratio = cand.interval_s / ref.interval_s
                if not lo <= ratio <= hi:
                    continue
                rshape = _shape_key(shapes.get((ref.src, ref.dst)))
                same_http = (
                    cshape[0]
                    and rshape[0]
                    and cshape[1] == rshape[1]
                    and (cshape[2] is None or cshape[2] == rshape[2])
                )
                size_ratio = (
                    (cand.bytes_median or 0.0) / ref.bytes_median if ref.bytes_median else 0.0
                )
                same_size = rshape == (False, False, None) and 0.67 <= size_ratio <= 1.5
                if not (same_http or same_size):
                    continue
                if dst in seen:
                    break
                seen.add(dst)
                basis = "same HTTP request shape" if same_http else "similar upload size"
                confidence = round(min(0.9, 0.5 + 0.4 * cand.periodicity), 4)
                found.append(NewC2(dst, cand.src, ref.dst, confidence))
                findings.append(
                    self.finding(
                        (dst,),
                        f"{dst} looks like a new C&C server (profile of {ref.dst})",
                        "high",
                        confidence,
                        (cand.src,),
                        cand.first_ts,
                        cand.last_ts,
                        (
                            Evidence(
                                source="conn.log",
                                locator=f"{cand.src} -> {dst}",
                                summary=(
                                    f"beacon every ~{cand.interval_s:.0f} s (known C&C "
                                    f"{ref.dst}: ~{ref.interval_s:.0f} s, ratio {ratio:.2f}), "
                                    f"{basis}, periodicity {cand.periodicity:.2f}, "
                                    f"C&C rank score {cand.score:.2f}"
                                ),
                            ),
                        ),
                        (
                            ("candidate", dst),
                            ("reference_c2", ref.dst),
                            ("interval_ratio", round(ratio, 3)),
                            ("basis", basis),
                            ("beacon_score", round(cand.periodicity, 4)),
                        ),
                    )
                )
                break
        ctx.outputs.new_c2 = tuple(found)
        return findings
