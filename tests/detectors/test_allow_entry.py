"""An allow-list entry's networks (content.AllowEntry.covers): what DQ-NET-002 (a beacon's
destination, beacon.allow_reason), DQ-NET-005 (an admin tool's source) and DQ-NET-010 (an
interactive session's destination) ask of every row, the last two through
content.allow_entry_covering; each asks only the entries for its scope (``applies_to``)."""

from __future__ import annotations

from duqhunt.content import AllowEntry


def test_covers_addresses_in_its_networks_only() -> None:
    entry = AllowEntry(
        name="backup",
        reason="nightly backup agent",
        cidrs=["10.20.0.0/16", "203.0.113.7", "2001:db8:5::/48", "192.0.2.1/24"],
    )
    assert entry.covers("10.20.255.1")
    assert not entry.covers("10.21.0.1")
    assert entry.covers("203.0.113.7") and not entry.covers("203.0.113.8")  # one address
    assert entry.covers("2001:db8:5::99") and not entry.covers("2001:db8:6::1")
    assert entry.covers("192.0.2.200")  # a network written with host bits set
    # a name or an empty value is no address: not covered, no error
    assert not entry.covers("backup.example.com") and not entry.covers("")


def test_an_entry_without_networks_covers_nothing() -> None:
    entry = AllowEntry(name="ntp", reason="time", domains=["pool.ntp.org"])
    assert not entry.covers("10.0.0.1")


def test_allow_entry_covering_names_the_first_entry_for_the_scope() -> None:
    from duqhunt.content import AllowList, allow_entry_covering

    lists = [
        AllowList(
            name="site",
            entries=[
                AllowEntry(name="ntp", reason="time", domains=["pool.ntp.org"]),
                AllowEntry(name="lab", reason="lab C&C", cidrs=["10.0.5.0/24"]),
                AllowEntry(
                    name="sccm", reason="deploys", cidrs=["10.0.5.7"], applies_to=["lateral"]
                ),
            ],
        ),
        AllowList(
            name="case",
            entries=[
                AllowEntry(
                    name="both",
                    reason="analyst",
                    cidrs=["10.0.6.0/24"],
                    applies_to=["beacon", "lateral"],
                )
            ],
        ),
    ]
    assert allow_entry_covering(lists, "10.0.5.7", "beacon") == "site: lab"
    assert allow_entry_covering(lists, "10.0.5.7", "lateral") == "site: sccm"
    assert allow_entry_covering(lists, "10.0.5.8", "lateral") is None  # lab: beacon only
    assert allow_entry_covering(lists, "10.0.6.1", "lateral") == "case: both"
    assert allow_entry_covering(lists, "10.0.7.1", "beacon") is None
    assert allow_entry_covering(lists, "pool.ntp.org", "beacon") is None


def test_a_beacon_is_suppressed_by_entries_for_the_c2_ranking_only() -> None:
    """An entry for lateral movement alone (``applies_to: [lateral]``) names administrators'
    sources: whatever its networks, ports or names, it does not stop a beacon being ranked."""
    from duqhunt.content import AllowList
    from duqhunt.detectors.net.beacon import allow_reason

    row = {
        "kind": "ip",
        "dst": "203.0.113.9",
        "proto_min": "udp",
        "proto_max": "udp",
        "port_min": 123,
        "port_max": 123,
    }
    names = {"time.example.org"}
    kinds: list[dict[str, object]] = [
        {"cidrs": ["203.0.113.0/24"]},
        {"proto": "udp", "ports": [123]},
        {"domains": ["example.org"]},
    ]
    for fields in kinds:
        for scope, want in (
            (["lateral"], None),
            (["beacon"], "site: e"),
            (["beacon", "lateral"], "site: e"),
        ):
            entry = AllowEntry(name="e", reason="r", applies_to=scope, **fields)  # type: ignore[arg-type]
            got = allow_reason(row, names, [AllowList(name="site", entries=[entry])])
            assert got == want, (fields, scope)
