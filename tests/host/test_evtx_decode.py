"""The EVTX stage's fast decoder and its filters before decoding: the same events as the full
JSON decoder, on the project's real EVTX fixtures and on record shapes it hands back to it."""

from __future__ import annotations

import json
from pathlib import Path

import evtx
import pytest

from duqhunt.sources.host.eventlog import (
    WANTED,
    _process_needed,
    _wanted_text,
    event_from_evtx_text,
    event_from_json,
    read_evtx,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "host"
FIXTURES = sorted(DATA.glob("*.evtx"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fast_decoder_equals_full_decoder(path: Path) -> None:
    """Every record of every real fixture decodes to the same event both ways (time, ids,
    channel, computer, user SID and every EventData field)."""
    n = 0
    for rec in evtx.PyEvtxParser(str(path)).records_json():
        text, rid = rec["data"], rec["event_record_id"]
        assert event_from_evtx_text(text, "f", rid) == event_from_json(json.loads(text), "f", rid)
        n += 1
    assert n


def _record(event_data: str, system_extra: str = "", tail: str = "") -> str:
    return (
        '{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"P"}},'
        '"EventID":4624,"TimeCreated":{"#attributes":{"SystemTime":"2021-04-21T09:40:32.342397Z"}},'
        f'"EventRecordID":"77","Channel":"Security","Computer":"PC1"{system_extra},'
        '"Security":{"#attributes":{"UserID":"S-1-5-18"}}},' + event_data + tail + "}}"
    )


@pytest.mark.parametrize(
    "text",
    [
        _record('"EventData":{"A":"x","B":3,"C":null,"D":true}'),  # a bool: the slow path
        _record('"EventData":{"Data":[{"@Name":"A","#text":"x"}]}'),  # an exporter's list
        _record('"UserData":{"Wrapper":{"A":"x","B":"y"}}'),  # UserData: the slow path
        _record('"EventData":{"A":"x"}', ',"Extra":"a\\\\b"'),  # an escaped System string
        _record('"EventData":{"A":"x"}', tail=',"RenderingInfo":{"Message":"m"}'),
        # a block after EventData that the full decoder reads (a merged or hand-edited export):
        # the fast decoder must hand the record back rather than drop the UserData fields
        _record('"EventData":{"A":"x"}', tail=',"UserData":{"Wrapper":{"B":"y"}}'),
        _record('"EventData":null'),
    ],
)
def test_other_record_shapes_decode_as_the_full_decoder(text: str) -> None:
    assert event_from_evtx_text(text, "f", 1) == event_from_json(json.loads(text), "f", 1)
    ev = event_from_evtx_text(text, "f", 1)
    assert ev is not None and ev.record_id == 77 and ev.user_sid == "S-1-5-18"


def test_service_children_decoded_only_when_a_detector_reads_them() -> None:
    """services.exe starts every service: its children are decoded only when they are a shell
    or live outside the system and program folders (what DQ-HOST-015 reads of them)."""
    parent = '"ParentImage":"C:\\\\Windows\\\\System32\\\\services.exe"'
    svchost = '{"Image":"C:\\\\Windows\\\\System32\\\\svchost.exe",' + parent + "}"
    cmd = '{"Image":"C:\\\\Windows\\\\System32\\\\cmd.exe",' + parent + "}"
    dropped = '{"Image":"C:\\\\Users\\\\Public\\\\upd.exe",' + parent + "}"
    vendor = '{"Image":"C:\\\\Program Files\\\\Acme\\\\agent.exe",' + parent + "}"
    assert not _process_needed(svchost) and not _process_needed(vendor)
    assert _process_needed(cmd) and _process_needed(dropped)


def test_sysmon_file_creation_kept_only_for_the_system_process() -> None:
    """Sysmon 11 is read only for files the System process wrote (an SMB client's copy)."""

    def rec(pid: str) -> str:
        return (
            '{"Event":{"System":{"EventID":11,"Channel":"Microsoft-Windows-Sysmon/Operational"},'
            f'"EventData":{{"ProcessId":{pid},"Image":"x","TargetFilename":"C:\\\\a.exe"}}}}}}'
        )

    assert _wanted_text(rec("4"), WANTED)
    assert not _wanted_text(rec("1234"), WANTED)


def test_read_evtx_keeps_the_records_of_the_wanted_ids() -> None:
    """read_evtx with the detectors' ids keeps exactly the events of those ids that pass the
    text filters: here every 4624 of an account and no 4672 (fixture: a real Security log)."""
    path = DATA / "evtxrs_security_real.evtx"
    everything = read_evtx(path, 10**7, None).events
    kept = read_evtx(path, 10**7, WANTED).events
    assert {e.event_id for e in kept} <= WANTED
    assert not any(e.event_id == 4672 for e in kept)
    accounts = [
        e
        for e in everything
        if e.event_id == 4624 and e.get("TargetLogonId") not in ("0x3e7", "0x3e4", "0x3e5")
    ]
    assert [e for e in kept if e.event_id == 4624] == accounts


def test_explicit_credentials_decoded_only_for_remote_execution_tools() -> None:
    """4648 is read for wmic, sc, schtasks, PsExec and winrs (DQ-HOST-015); the logons every
    desktop makes with explicit credentials (lsass.exe, consent.exe...) are skipped."""

    def rec(process: str) -> str:
        return (
            '{"Event":{"System":{"EventID":4648,"Channel":"Security"},'
            f'"EventData":{{"ProcessName":"{process}","TargetServerName":"fs01"}}}}}}'
        )

    assert _wanted_text(rec("C:\\\\Windows\\\\System32\\\\wbem\\\\WMIC.exe"), WANTED)
    assert _wanted_text(rec("C:\\\\Tools\\\\PsExec64.exe"), WANTED)
    assert not _wanted_text(rec("C:\\\\Windows\\\\System32\\\\lsass.exe"), WANTED)


def test_share_access_decoded_for_pipes_and_admin_shares_only() -> None:
    """5145 is read on IPC$ and admin shares (ADMIN$, C$...); a file server's audit of its
    users' files on plain shares (Users$, SYSVOL, Data) is skipped before decoding."""
    from duqhunt.detectors.shares import share_kind

    def rec(share: str) -> str:
        return (
            '{"Event":{"System":{"EventID":5145,"Channel":"Security"},'
            f'"EventData":{{"ShareName":"\\\\\\\\*\\\\{share}","RelativeTargetName":"a.exe"}}}}}}'
        )

    for share in ("IPC$", "ADMIN$", "C$", "d$", "Users$", "SYSVOL", "Data", "print$"):
        assert _wanted_text(rec(share), WANTED) == (share_kind(share) in ("admin", "ipc")), share
