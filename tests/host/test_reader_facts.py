"""The host readers called directly, on inputs built from their formats' documents: a hive's
kind, a service's values, a .reg export's deletion keys, a PE file's section table and size
limit, the event records of JSON exports.

The host scan runs these readers in a worker process (isolation.py), so a test through
``scan_host`` is not credited to them by the mutation tool (it records which test reaches
which function in the test's own process): what a reader must return is asserted here, in
the test's process."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from host_builders import HiveKey, build_hive, job_bytes, system_hive_tree

from duqhunt.errors import InputError
from duqhunt.safety import Deadline
from duqhunt.simulate.host import build_inert_pe
from duqhunt.sources.host.eventlog import event_from_json, read_event_json
from duqhunt.sources.host.jobfile import read_job
from duqhunt.sources.host.pe import _certificates, _raw_version_strings, read_pe
from duqhunt.sources.host.registry import _reg_value, read_hive_file, read_reg_export

# --- binary hives: the kind of a hive whatever its file is called ---------------------------


def _software_tree() -> HiveKey:
    cv: HiveKey = ({"ProductName": "Windows 7 Professional", "CurrentBuild": "7601"}, {})
    nt: HiveKey = ({}, {"CurrentVersion": cv})
    return ({}, {"Microsoft": ({}, {"Windows NT": nt})})


def test_a_hive_is_known_by_its_keys_when_its_file_name_says_nothing(tmp_path: Path) -> None:
    """Triage tools rename hives (``hive1.dat``): a hive with a Select key is a SYSTEM hive
    (only SYSTEM has Select: the control sets), one with Microsoft\\Windows NT\\CurrentVersion
    is a SOFTWARE hive; their facts are read as such."""
    system = tmp_path / "hive1.dat"
    system.write_bytes(build_hive(system_hive_tree()))
    software = tmp_path / "hive2.dat"
    software.write_bytes(build_hive(_software_tree(), name="SOFTWARE"))

    sys_facts, _ = read_hive_file(system, 1 << 20)
    assert sys_facts.kind == "SYSTEM" and sys_facts.computer_name == "WS-10-1-0-29"
    soft_facts, _ = read_hive_file(software, 1 << 20)
    assert soft_facts.kind == "SOFTWARE"
    assert soft_facts.product == "Windows 7 Professional" and not soft_facts.services


def test_a_user_hive_is_known_by_its_name_or_by_its_keys(tmp_path: Path) -> None:
    """A hive file called NTUSER.DAT is a user's hive even with no Software\\Microsoft key (a
    new profile's); a renamed one is known by that key; a hive with neither is "other"."""
    bare = tmp_path / "NTUSER.DAT"
    bare.write_bytes(build_hive(({}, {"Environment": ({"TEMP": "x"}, {})}), name="NTUSER.DAT"))
    keyed = tmp_path / "hive3.dat"
    ms: HiveKey = ({}, {"Microsoft": ({}, {"Windows": ({}, {})})})
    keyed.write_bytes(build_hive(({}, {"Software": ms}), name="NTUSER.DAT"))
    other = tmp_path / "hive4.dat"
    other.write_bytes(build_hive(({}, {"Environment": ({"TEMP": "x"}, {})}), name="X"))
    assert read_hive_file(bare, 1 << 20)[0].kind == "NTUSER"
    assert read_hive_file(keyed, 1 << 20)[0].kind == "NTUSER"
    assert read_hive_file(other, 1 << 20)[0].kind == "other"


def test_a_service_keeps_its_display_name(tmp_path: Path) -> None:
    """Services\\<name>\\DisplayName (REG_SZ) is the service's display name."""
    p = tmp_path / "SYSTEM"
    p.write_bytes(build_hive(system_hive_tree()))
    facts, _ = read_hive_file(p, 1 << 20)
    by_name = {s.name: s for s in facts.services}
    assert by_name["Tcpip"].display_name == "TCP/IP Protocol Driver"
    assert by_name["JmiNET3"].display_name == ""  # the Duqu service writes none


# --- .reg exports -------------------------------------------------------------------------


def test_a_deletion_key_in_a_reg_export_does_not_end_the_export(tmp_path: Path) -> None:
    """In a .reg file ``[-KEY]`` deletes a key (regedit's format); it says nothing about the
    host's state, and the keys after it are read as usual."""
    text = (
        "Windows Registry Editor Version 5.00\r\n\r\n"
        "[-HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Old]\r\n\r\n"
        "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\JmiNET3]\r\n"
        '"ImagePath"="\\\\SystemRoot\\\\System32\\\\Drivers\\\\jminet7.sys"\r\n'
        '"Type"=dword:00000001\r\n'
        '"Start"=dword:00000001\r\n'
    )
    p = tmp_path / "services.reg"
    p.write_text(text, encoding="utf-8")
    (facts,) = read_reg_export(p, 1 << 20)
    assert facts.kind == "SYSTEM"
    assert [s.name for s in facts.services] == ["JmiNET3"]
    svc = facts.services[0]
    assert svc.image_path == "\\SystemRoot\\System32\\Drivers\\jminet7.sys" and svc.kernel


# --- PE files -----------------------------------------------------------------------------


def test_pe_sections_are_read_from_the_section_table(tmp_path: Path) -> None:
    """Each IMAGE_SECTION_HEADER gives a section: its name, SizeOfRawData, and whether it is
    both IMAGE_SCN_MEM_EXECUTE (0x20000000) and IMAGE_SCN_MEM_WRITE (0x80000000)."""
    import pefile

    data = bytearray(build_inert_pe({}, sections=(".text", "x\x01yz", ".rsrc")))
    # make the second section writable and executable in the bytes (pefile finds the table)
    header = pefile.PE(data=bytes(data), fast_load=True).sections[1].get_file_offset()
    struct.pack_into("<I", data, header + 36, 0xE0000020)  # Characteristics: code, R, W, X
    p = tmp_path / "x.sys"
    p.write_bytes(bytes(data))
    info = read_pe(p, 1 << 20)
    assert [s.name for s in info.sections] == [".text", "x\x01yz", ".rsrc"]
    assert [s.writable_executable for s in info.sections] == [False, True, False]
    assert all(s.size == 0x200 for s in info.sections[:2])
    assert info.sections[0].entropy == 0.0  # zero-filled


def test_pe_over_the_size_limit_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "big.sys"
    p.write_bytes(build_inert_pe({}))
    with pytest.raises(InputError) as err:
        read_pe(p, p.stat().st_size - 1)
    assert err.value.path == str(p) and "larger than" in err.value.reason


# --- event records in JSON ----------------------------------------------------------------


# the System block of an evtx JSON record (a logon on PC1)
_SYSTEM_4624 = {
    "EventID": 4624,
    "TimeCreated": {"#attributes": {"SystemTime": "2021-04-21T09:40:32.342397Z"}},
    "Channel": "Security",
    "Computer": "PC1",
}


def test_a_record_without_the_event_wrapper_keeps_only_its_event_data() -> None:
    """The evtx JSON shape without its outer ``Event`` object (System and EventData at the
    top): the event's fields are EventData's, not the System block or EventData itself."""
    rec = {
        "System": _SYSTEM_4624,
        "EventData": {"TargetUserName": "bob", "LogonType": 3},
    }
    ev = event_from_json(rec, "f")
    assert ev is not None and ev.event_id == 4624 and ev.computer == "PC1"
    assert dict(ev.data) == {"TargetUserName": "bob", "LogonType": "3"}


def test_a_flat_record_keeps_its_fields_and_not_the_system_ones() -> None:
    """A flat record (nxlog, Logstash): every top-level field is an event field except the
    System ones the event carries itself (EventID, TimeCreated, Computer, Channel...)."""
    rec = {
        "EventID": 4624,
        "TimeCreated": "2021-04-21T09:40:32Z",
        "Computer": "PC1",
        "Channel": "Security",
        "EventRecordID": 9,
        "TargetUserName": "bob",
    }
    ev = event_from_json(rec, "f")
    assert ev is not None and ev.record_id == 9 and ev.channel == "Security"
    assert ev.time == datetime(2021, 4, 21, 9, 40, 32, tzinfo=UTC).timestamp()
    assert dict(ev.data) == {"TargetUserName": "bob"}


def test_a_list_valued_event_field_is_its_items_joined_by_commas() -> None:
    """An exporter that writes a field as a JSON array (several values of one name): the
    event field is the items in order, joined by commas."""
    rec = {
        "System": _SYSTEM_4624,
        "EventData": {"TargetUserName": "bob", "Privileges": ["SeDebug", "SeTcb"]},
    }
    ev = event_from_json(rec, "f")
    assert ev is not None and dict(ev.data)["Privileges"] == "SeDebug,SeTcb"


def test_a_json_file_without_an_event_names_itself(tmp_path: Path) -> None:
    p = tmp_path / "export.json"
    p.write_text('{"hello": "world"}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_event_json(p, 1000, 1 << 20)
    assert str(p) in str(err.value) and "no line is an event" in str(err.value)


def test_a_job_file_keeps_its_path(tmp_path: Path) -> None:
    """The facts of a .job file name the file they came from (the report's evidence)."""
    p = tmp_path / "At7.job"
    p.write_bytes(job_bytes("a.exe", "", "CORP\\admin"))
    assert read_job(p).path == str(p)


def test_reg_export_hex_dword_and_qword_are_little_endian() -> None:
    """regedit writes REG_DWORD as dword:, but a value of type 4 or 11 written as hex(4): or
    hex(b): holds its bytes in little-endian order (MS-RRP / winnt.h REG_DWORD, REG_QWORD)."""
    assert _reg_value("hex(4):02,00,00,00") == 2
    assert _reg_value("hex(b):01,02,00,00,00,00,00,00") == 0x0201
    assert _reg_value("hex(4):02,00,00") == b"\x02\x00\x00"  # not four bytes: left as bytes


def test_past_the_deadline_section_entropy_is_sampled_and_said(tmp_path: Path) -> None:
    """Once the file's time budget is spent, each section's entropy is measured on its first
    bytes only, and the PE's facts say how many were (partly analysed, not silently)."""
    p = tmp_path / "x.sys"
    p.write_bytes(build_inert_pe({}, sections=(".text", ".rdata", ".rsrc")))
    info = read_pe(p, 1 << 20, Deadline(0.0))
    assert [s.name for s in info.sections] == [".text", ".rdata", ".rsrc"]
    assert any("entropy of 3 of 3 sections" in w for w in info.partial), info.partial


def _ed25519_pkcs7(org: str) -> bytes:
    """A certs-only PKCS#7 blob whose bytes depend on ``org`` alone (Ed25519 signs
    deterministically; the key, serial and dates are fixed)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])
    issuer = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(datetime(2011, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2012, 1, 1, tzinfo=UTC))
        .sign(key, None)
    )
    return pkcs7.serialize_certificates([cert], serialization.Encoding.DER)


def test_each_entry_of_the_certificate_table_is_read() -> None:
    """The attribute certificate table (PE format, "The Attribute Certificate Table") holds
    WIN_CERTIFICATE entries one after another, each starting on an 8-byte boundary: an entry
    whose dwLength is already a multiple of 8 is followed directly by the next."""
    # each letter of the name adds one byte: one of eight lengths is a multiple of 8
    first = next(
        p7 for k in range(8) if (8 + len(p7 := _ed25519_pkcs7("Org A" + "a" * k))) % 8 == 0
    )
    second = _ed25519_pkcs7("Org B")

    def entry(p7: bytes) -> bytes:
        raw = struct.pack("<IHH", 8 + len(p7), 0x0200, 2) + p7
        return raw + b"\0" * (-len(raw) % 8)

    _, certs = _certificates(entry(first) + entry(second))
    assert [c.organisation[:5] for c in certs] == ["Org A", "Org B"]


def test_version_strings_are_read_up_to_their_terminator() -> None:
    """Where pefile cannot walk the resources, a version string is found by its UTF-16 key
    (a VS_VERSIONINFO String, on a 32-bit boundary: wLength, wValueLength, wType, the key and
    its NUL, padding to 32 bits, the value and its NUL) and ends at its NUL."""
    data = bytearray()
    for key, value in (("CompanyName", "Microsoft"), ("ProductName", "Windows")):
        data += b"\0" * (-len(data) % 4)
        data += struct.pack("<3H", 0, len(value) + 1, 1) + key.encode("utf-16-le") + b"\0\0"
        data += b"\0" * (-len(data) % 4)
        data += value.encode("utf-16-le") + b"\0\0"
    got = _raw_version_strings(bytes(data))
    assert (got["CompanyName"], got["ProductName"]) == ("Microsoft", "Windows")
