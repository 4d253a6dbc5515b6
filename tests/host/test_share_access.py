"""Event 5145 (detailed file share) as Microsoft documents it: the AccessMask is the file access
asked for (MS-SMB2 2.2.13.1.1, winnt.h): 0x1 ReadData, 0x2 WriteData, 0x4 AppendData,
0x20 Execute, 0x10000 DELETE; AccessList names the same rights as message ids (%%4416
ReadData, %%4417 WriteData, %%4418 AppendData). Only a write of a program file into an admin
share is "wrote" (high, DQ-HOST-009): reading setup.exe off C$ is not. Events are a JSON export
written here in the shape evtx_dump writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from duqhunt.hostscan import scan_host

LOGON_ID = "0x5a1f00"


def _event(t: str, eid: int, data: dict[str, str]) -> str:
    return json.dumps(
        {
            "Event": {
                "System": {
                    "EventID": eid,
                    "TimeCreated": {"#attributes": {"SystemTime": t}},
                    "Computer": "FS07.corp.example",
                    "Channel": "Security",
                },
                "EventData": data,
            }
        }
    )


def _session(tmp_path: Path, access: dict[str, str]) -> list:  # type: ignore[type-arg]
    who = {
        "SubjectLogonId": LOGON_ID,
        "SubjectUserName": "backup_op",
        "SubjectDomainName": "CORP",
        "IpAddress": "10.20.0.5",
    }
    lines = [
        _event(
            "2024-03-05T10:00:00.000Z",
            4624,
            {
                "LogonType": "3",
                "TargetLogonId": LOGON_ID,
                "TargetUserName": "backup_op",
                "TargetDomainName": "CORP",
                "IpAddress": "10.20.0.5",
            },
        ),
        _event("2024-03-05T10:00:01.000Z", 5140, {**who, "ShareName": "\\\\*\\C$"}),
        _event(
            "2024-03-05T10:00:02.000Z",
            5145,
            {
                **who,
                "ShareName": "\\\\*\\C$",
                "RelativeTargetName": "Windows\\Temp\\setup.exe",
                **access,
            },
        ),
    ]
    logs = tmp_path / "FS07" / "Logs"
    logs.mkdir(parents=True)
    (logs / "Security.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = scan_host([tmp_path / "FS07"])
    assert not res.not_analysed, res.not_analysed
    return [f for f in res.findings if f.detector == "DQ-HOST-009"]


@pytest.mark.parametrize(
    "access",
    [
        {"AccessMask": "0x1", "AccessList": "%%4416"},  # ReadData
        {"AccessMask": "0x120089"},  # a plain read open: ReadData|ReadEA|ReadAttributes|...
        {"AccessMask": "0x20"},  # Execute
        {"AccessMask": "0x10080"},  # DELETE|ReadAttributes: removes, writes no content
        {"AccessList": "%%4416\n\t\t\t\t%%4423"},  # no mask: ReadData, ReadAttributes
    ],
    ids=["read", "read-open", "execute", "delete", "list-read"],
)
def test_reading_a_program_off_an_admin_share_is_not_a_write(
    tmp_path: Path, access: dict[str, str]
) -> None:
    (f,) = _session(tmp_path, access)
    assert "wrote" not in f.title and dict(f.details)["files"] is None
    assert f.severity == "low", f.title
    assert "read C$\\Windows\\Temp\\setup.exe" in f.title
    assert dict(f.details)["read"] == "C$\\Windows\\Temp\\setup.exe"


@pytest.mark.parametrize(
    "access",
    [
        {"AccessMask": "0x2", "AccessList": "%%4417"},  # WriteData
        {"AccessMask": "0x4"},  # AppendData
        {"AccessMask": "0x120196"},  # PsExec's copy: WriteData|AppendData|WriteEA|...
        {"AccessMask": "0x40000000"},  # GENERIC_WRITE
        {"AccessList": "%%4417"},  # no mask: WriteData
    ],
    ids=["write", "append", "psexec-copy", "generic-write", "list-write"],
)
def test_writing_a_program_to_an_admin_share_is_high(
    tmp_path: Path, access: dict[str, str]
) -> None:
    (f,) = _session(tmp_path, access)
    assert f.severity == "high"
    assert f.title == "CORP\\backup_op from 10.20.0.5: wrote C$\\Windows\\Temp\\setup.exe"
    assert dict(f.details)["files"] == "C$\\Windows\\Temp\\setup.exe"


def test_access_not_logged_is_opened_medium(tmp_path: Path) -> None:
    (f,) = _session(tmp_path, {})
    assert f.severity == "medium" and "wrote" not in f.title
    assert "opened C$\\Windows\\Temp\\setup.exe (access not logged)" in f.title
