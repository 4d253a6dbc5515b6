"""A .reg export of a user's hive taken from HKEY_USERS\\<SID> (what ``reg export HKU\\<SID>``
writes) reads as that user's NTUSER hive, the same as an export from HKEY_CURRENT_USER."""

from __future__ import annotations

from pathlib import Path

from duqhunt.sources.host.registry import parse_reg_text

SID = "S-1-5-21-1004336348-1177238915-682003330-1001"
RUN = "Software\\Microsoft\\Windows\\CurrentVersion\\Run"


def _export(tmp_path: Path, root: str) -> Path:
    text = (
        "Windows Registry Editor Version 5.00\r\n\r\n"
        f"[{root}\\{RUN}]\r\n"
        '"Updater"="C:\\\\Users\\\\a\\\\AppData\\\\Roaming\\\\upd.exe"\r\n'
    )
    p = tmp_path / "user.reg"
    p.write_text(text, encoding="utf-8")
    return p


def test_hkey_users_sid_is_the_users_hive(tmp_path: Path) -> None:
    hives = parse_reg_text(_export(tmp_path, f"HKEY_USERS\\{SID}"), 1 << 20)
    assert set(hives) == {"NTUSER"}
    key = hives["NTUSER"].key(RUN)
    assert key is not None and key.name == "Run"
    assert key.values["Updater"] == "C:\\Users\\a\\AppData\\Roaming\\upd.exe"


def test_same_as_current_user(tmp_path: Path) -> None:
    a = parse_reg_text(_export(tmp_path, f"HKEY_USERS\\{SID}"), 1 << 20)["NTUSER"].key(RUN)
    b = parse_reg_text(_export(tmp_path, "HKEY_CURRENT_USER"), 1 << 20)["NTUSER"].key(RUN)
    assert a == b


def test_the_bare_sid_header_is_the_hives_root(tmp_path: Path) -> None:
    # reg export HKU\<SID> starts with the hive's own key: its values belong to the root, and
    # no key named after a piece of the SID appears
    p = tmp_path / "user.reg"
    p.write_text(
        "Windows Registry Editor Version 5.00\r\n\r\n"
        f"[HKEY_USERS\\{SID}]\r\n"
        '"RootValue"="r"\r\n\r\n'
        f"[HKEY_USERS\\{SID}\\{RUN}]\r\n"
        '"Updater"="u.exe"\r\n',
        encoding="utf-8",
    )
    hive = parse_reg_text(p, 1 << 20)["NTUSER"]
    root = hive.key("")
    assert root is not None and root.values == {"RootValue": "r"}
    assert root.subkeys == ("Software",)
    run = hive.key(RUN)
    assert run is not None and run.values == {"Updater": "u.exe"}
