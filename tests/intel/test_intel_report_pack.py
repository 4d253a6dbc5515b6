"""The duqu-2011 intel pack, victim grouping, sightings, IP lookups and the intel page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from intel_fixtures import sample_report

from duqhunt.campaign.geo import BASIS_ASN, BASIS_COUNTRY, BASIS_ORG, group_victims
from duqhunt.errors import ContentError, InputError
from duqhunt.intel import (
    add_sightings,
    intel_report,
    load_sightings,
    render_intel_html,
    resolve_intel_pack,
    sightings_from_report,
)
from duqhunt.intel.geoip import GeoInfo, MmdbGeoIP
from duqhunt.intel.pack import Sighting
from duqhunt.intel.report import render_intel_text


class FakeLookup:
    source = "fake lookup"

    def __init__(self, table: dict[str, GeoInfo]) -> None:
        self.table = table

    def lookup(self, ip: str) -> GeoInfo:
        return self.table.get(ip, GeoInfo(ip=ip, source=self.source))


def test_duqu_2011_organisation_table() -> None:
    report = intel_report("duqu-2011")
    rows = {v.group: v for v in report.victims}
    expected = {
        "Organization A": ("FR", "NL", "CH", "UA"),
        "Organization B": ("IN",),
        "Organization C": ("IR",),
        "Organization D": ("IR",),
        "Organization E": ("SD",),
        "Organization F": ("VN",),
    }
    for org, countries in expected.items():
        assert rows[org].confirmed and rows[org].reported_countries == countries
        assert rows[org].basis == BASIS_ORG
        assert any("Symantec" in s and "1.4" in s and "2011-11-23" in s for s in rows[org].sources)
    confirmed = {c for v in report.victims if v.confirmed for c in v.reported_countries}
    assert len(confirmed) == 8
    unconfirmed = [v for v in report.victims if not v.confirmed]
    assert {c for v in unconfirmed for c in v.reported_countries} == {"AT", "HU", "ID", "GB", "IR"}
    assert report.victims[:6] == [rows[o] for o in expected]  # confirmed first, in pack order
    # the map: confirmed red, unconfirmed orange; Iran is both and counts as confirmed
    assert report.countries["IR"] == "confirmed"
    assert report.countries["HU"] == "unconfirmed"
    assert 'data-cc="SD" class="country confirmed"' in report.map_svg or re.search(
        r'class="country confirmed"[^>]*data-cc="SD"', report.map_svg
    )
    infra = {i.ip: i for i in report.infrastructure}
    assert infra["206.183.111.97"].reported_country == "IN"
    assert infra["77.241.93.160"].reported_country == "BE"
    assert infra["206.183.111.97"].hosting and "Web Werks" in infra["206.183.111.97"].hosting
    text = render_intel_text(report)
    assert "Organization A" in text and "Vietnam" in text


def test_reported_country_is_kept_apart_from_todays_lookup() -> None:
    fake = FakeLookup(
        {"206.183.111.97": GeoInfo("206.183.111.97", "US", None, "Web Werks India", None, "fake")}
    )
    report = intel_report("duqu-2011", lookup=fake)
    row = next(i for i in report.infrastructure if i.ip == "206.183.111.97")
    assert (row.reported_country, row.lookup_country, row.country_differs) == ("IN", "US", True)
    assert report.countries.get("US") is None  # a lookup never colours the map


def test_packaged_lookup_of_the_india_server() -> None:
    pytest.importorskip("geoip2fast")
    from duqhunt.intel.geoip import PackagedGeoIP

    geo = PackagedGeoIP()
    info = geo.lookup("206.183.111.97")
    assert info.country == "US" and info.asn_org and "Web Werks" in info.asn_org
    assert geo.lookup("10.0.0.1").country is None  # private: no lookup


def test_mmdb_records_are_read() -> None:
    class Reader:
        def get(self, ip: str) -> object:
            return {
                "country": {"iso_code": "be"},
                "autonomous_system_number": 34762,
                "autonomous_system_organization": "Combell NV",
            }

    info = MmdbGeoIP(readers=[Reader()]).lookup("77.241.93.160")
    assert (info.country, info.asn, info.asn_org) == ("BE", 34762, "Combell NV")


def test_grouping_basis() -> None:
    fake = FakeLookup(
        {"198.51.100.7": GeoInfo("198.51.100.7", "DE", 3320, "Deutsche Telekom", None, "fake")}
    )
    rows = group_victims(
        sightings=[
            Sighting(ip="198.51.100.7", reporter="r1", confirmed=True),
            Sighting(ip="198.51.100.8", country="fr", reporter="r2"),
            Sighting(organisation="Acme", ip="198.51.100.9", reporter="r3"),
            Sighting(organisation="ACME", reporter="r4"),
        ],
        lookup=fake,
    )
    by = {r.group: r for r in rows}
    assert by["Deutsche Telekom"].basis == BASIS_ASN and by[
        "Deutsche Telekom"
    ].lookup_countries == ("DE",)
    assert by["Deutsche Telekom"].reported_countries == ()
    assert by["FR"].basis == BASIS_COUNTRY
    assert by["Acme"].sightings == 2 and by["Acme"].reporters == ("r3", "r4")
    assert rows[0].group == "Deutsche Telekom"  # confirmed first


def test_sightings_csv_json_and_merge(tmp_path: Path) -> None:
    csv_file = tmp_path / "s.csv"
    csv_file.write_text(
        "Time,Source IP,Org,Country,SHA256,C&C,Reporter,Confirmed,Extra\n"
        f"2011-10-20,198.51.100.7,,ir,{'d' * 64},206.183.111.97,Vendor X,yes,?\n"
        ",,Org Z,SD,,,,no,\n",
        encoding="utf-8",
    )
    rows = load_sightings(csv_file)
    assert rows[0].country == "IR" and rows[0].confirmed and rows[0].c2 == "206.183.111.97"
    assert rows[1].reporter == "s.csv" and not rows[1].confirmed
    json_file = tmp_path / "s.json"
    json_file.write_text(
        '{"sightings": [{"ip": "198.51.100.9", "reporter": "Y", "confirmed": true}]}'
    )
    assert load_sightings(json_file)[0].confirmed
    pack_file = tmp_path / "intel" / "mine.yaml"
    add_sightings(csv_file, pack_file)
    pack = add_sightings(csv_file, pack_file)  # the same file twice: no repeats
    assert len(pack.sightings) == 2
    pack = add_sightings(json_file, pack_file)
    assert len(resolve_intel_pack(pack_file).sightings) == 3
    report = intel_report(pack_file)
    assert {v.group for v in report.victims} >= {"Org Z", "IR"}


def test_bad_sightings_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ip,reporter,confirmed\n198.51.100.1,x,yes\nnot-an-ip-or-org,,maybe\n")
    with pytest.raises(InputError) as exc:
        load_sightings(bad)
    assert exc.value.line == 3
    nohash = tmp_path / "h.json"
    nohash.write_text('[{"ip": "198.51.100.1", "sample_hash": "xyz"}]')
    with pytest.raises(InputError):
        load_sightings(nohash)
    with pytest.raises(ContentError):
        resolve_intel_pack("no-such-pack")


def test_sightings_from_a_hunt() -> None:
    got = sightings_from_report(sample_report())
    by_ip = {s.ip: s for s in got}
    assert by_ip["10.1.0.15"].c2 == "206.183.111.97" and not by_ip["10.1.0.15"].confirmed
    assert "10.9.9.9" not in by_ip and "206.183.111.97" not in by_ip


def test_intel_page_is_self_contained_and_escaped() -> None:
    hostile = Sighting(
        organisation="<img src=x onerror=alert(1)>\u202e", ip="198.51.100.5", reporter="<b>r</b>"
    )
    page = render_intel_html(intel_report("duqu-2011", sightings=[hostile]))
    assert "<img src=x" not in page and "<b>r</b>" not in page
    assert "\u202e" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp and "default-src 'none'" in csp.group(1) and "script-src" not in csp.group(1)
    assert "<script" not in page
    assert not re.search(r'(src|href)="https?:', page)
    assert "Organization A" in page and "worldmap" in page
