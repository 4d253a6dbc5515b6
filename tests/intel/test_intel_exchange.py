"""STIX 2.1 and MISP: export validates, and packs round-trip through import/export."""

from __future__ import annotations

import json

import pytest
from intel_fixtures import sample_report

from duqhunt.content import IocPack, builtin_ioc_packs
from duqhunt.errors import InputError
from duqhunt.intel import (
    misp_to_pack,
    resolve_intel_pack,
    stix_to_pack,
    to_misp_event,
    to_stix_bundle,
)
from duqhunt.intel.stix import parse_pattern

stix2validator = pytest.importorskip("stix2validator")


def _pack() -> IocPack:
    return IocPack.model_validate(
        {
            "pack": "round-trip",
            "title": "every IOC type",
            "indicators": [
                {
                    "type": "ip",
                    "value": "206.183.111.97",
                    "confidence": 0.95,
                    "source": "Symantec v1.4",
                    "description": "C&C",
                    "tags": ["c2", "duqu"],
                    "country": "IN",
                },
                {"type": "ip", "value": "2001:db8::1", "confidence": 0.5, "source": "s"},
                {
                    "type": "domain",
                    "value": "kasperskychk.dyndns.org",
                    "confidence": 0.7,
                    "source": "CrySyS",
                },
                {
                    "type": "url",
                    "value": "http://example.test/a?b='c'",
                    "confidence": 0.3,
                    "source": "s",
                },
                {
                    "type": "user-agent",
                    "value": "Mozilla/5.0 (Windows; U; it's) \\ x",
                    "confidence": 0.8,
                    "source": "s",
                    "tags": ["duqu"],
                },
                {"type": "filename", "value": "DSC00001.jpg", "confidence": 0.6, "source": "s"},
                {
                    "type": "md5",
                    "value": "0a566b1616c8afeef214372b1a0580c7",
                    "confidence": 0.9,
                    "source": "s",
                },
                {"type": "sha1", "value": "a" * 40, "confidence": 0.9, "source": "s"},
                {"type": "sha256", "value": "b" * 64, "confidence": 0.9, "source": "s"},
            ],
        }
    )


def _validate(bundle: dict[str, object]) -> None:
    opts = stix2validator.ValidationOptions(version="2.1")
    result = stix2validator.validate_instance(bundle, opts)
    assert result.is_valid, [str(e) for e in result.errors]


def test_stix_bundle_of_report_and_packs_validates() -> None:
    doc = sample_report()
    bundle = to_stix_bundle(doc, [*builtin_ioc_packs(), resolve_intel_pack("duqu-2011"), _pack()])
    _validate(bundle)
    objs = bundle["objects"]
    kinds = {o["type"] for o in objs}
    assert {
        "malware",
        "indicator",
        "infrastructure",
        "ipv4-addr",
        "location",
        "identity",
        "sighting",
        "relationship",
        "attack-pattern",
        "grouping",
    } <= kinds
    rels = {(o["relationship_type"]) for o in objs if o["type"] == "relationship"}
    assert {"indicates", "uses", "consists-of", "located-at"} <= rels
    infra = [o for o in objs if o["type"] == "infrastructure"]
    assert all(o["infrastructure_types"] == ["command-and-control"] for o in infra)
    victims = [
        o for o in objs if o["type"] == "identity" and o.get("identity_class") == "organization"
    ]
    assert {"Organization A", "Organization F"} <= {o["name"] for o in victims}
    sightings = [o for o in objs if o["type"] == "sighting"]
    assert all(0 <= o.get("confidence", 0) <= 100 for o in sightings)
    # same input, same bundle
    assert to_stix_bundle(doc, [_pack()]) == to_stix_bundle(doc, [_pack()])


def test_stix_round_trip() -> None:
    pack = _pack()
    bundle = to_stix_bundle(None, [pack])
    _validate(bundle)
    back = stix_to_pack(json.dumps(bundle))
    assert back.pack == pack.pack and back.title == pack.title
    assert back.indicators == pack.normalised()


def test_stix_import_of_foreign_bundle() -> None:
    bundle = {
        "type": "bundle",
        "id": "bundle--0b3b7d2e-1f00-4a5b-8c3d-000000000001",
        "objects": [
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": "indicator--0b3b7d2e-1f00-4a5b-8c3d-000000000002",
                "created": "2020-01-01T00:00:00Z",
                "modified": "2020-01-01T00:00:00Z",
                "pattern": "[ipv4-addr:value = '1.2.3.4/32' OR domain-name:value = 'Evil.Example.']",
                "pattern_type": "stix",
                "valid_from": "2020-01-01T00:00:00Z",
                "confidence": 40,
                "external_references": [
                    {"source_name": "Vendor", "url": "https://vendor.example/r"}
                ],
            },
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": "indicator--0b3b7d2e-1f00-4a5b-8c3d-000000000003",
                "created": "2020-01-01T00:00:00Z",
                "modified": "2020-01-01T00:00:00Z",
                "pattern": "[file:size > 10 AND file:name = 'a']",
                "pattern_type": "stix",
                "valid_from": "2020-01-01T00:00:00Z",
            },
        ],
    }
    pack = stix_to_pack(bundle, name="vendor")
    assert [(i.type, i.value) for i in pack.indicators] == [
        ("ip", "1.2.3.4"),
        ("domain", "evil.example"),
    ]
    assert pack.indicators[0].confidence == 0.4
    assert "vendor.example" in pack.indicators[0].source
    with pytest.raises(InputError):
        stix_to_pack({"type": "report"})
    assert parse_pattern("[ipv4-addr:value = '10.0.0.0/8']") is None


def test_misp_round_trip_and_foreign_event() -> None:
    pack = _pack()
    event = to_misp_event(None, [pack])
    assert "Event" in event and event["Event"]["distribution"] in (0, "0")
    back = misp_to_pack(json.dumps(event))
    assert back.pack == pack.pack and back.title == pack.title
    assert back.indicators == pack.normalised()
    foreign = {
        "Event": {
            "info": "vendor event",
            "uuid": "5f556924-c212-4c6c-adab-6a43fd034822",
            "Attribute": [
                {
                    "type": "ip-dst|port",
                    "value": "9.9.9.9|443",
                    "to_ids": True,
                    "category": "Network activity",
                },
                {
                    "type": "filename|md5",
                    "value": "a.exe|" + "c" * 32,
                    "to_ids": False,
                    "category": "Payload delivery",
                    "comment": "from sandbox",
                },
                {"type": "text", "value": "ignored", "category": "Other"},
            ],
        }
    }
    got = misp_to_pack(foreign)
    assert [(i.type, i.value, i.confidence) for i in got.indicators] == [
        ("ip", "9.9.9.9", 0.7),
        ("filename", "a.exe", 0.4),
        ("md5", "c" * 32, 0.4),
    ]
    assert got.indicators[1].source == "from sandbox"


def test_misp_event_of_a_report_keeps_victims_out_of_imports() -> None:
    doc = sample_report()
    event = to_misp_event(doc)
    types = {(a["type"], a["value"]) for a in event["Event"]["Attribute"]}
    assert ("ip-dst", "206.183.111.97") in types and ("ip-src", "10.1.0.15") in types
    tags = {t["name"] for t in event["Event"]["Tag"]}
    assert 'misp-galaxy:mitre-attack-pattern="Web Protocols - T1071.001"' in tags
    values = {i.value for i in misp_to_pack(event).indicators}
    assert values == {"206.183.111.97"}
