"""Points 10 and 13 of issue #13: the command line answers every bad option with a clear
error (exit 2, no traceback), says first when nothing could be analysed (exit 1 for every
command), and prints nothing from input raw (control characters escaped everywhere)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_builders import conn_log, good_rows, report, run_cli, run_cli_subprocess


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return conn_log(tmp_path / "logs" / "conn.log", good_rows(12)).parent


def _hunt(logs: Path, out: Path, *extra: str) -> list[str]:
    return ["hunt", str(logs), "--out", str(out), "--no-progress", *extra]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--threads", "-1"], "argument --threads: '-1': at least 1"),
        (["--threads", "0"], "argument --threads: '0': at least 1"),
        (["--param", "no_such_knob=3"], "--param no_such_knob: no detector reads it"),
        (["--param", "report_score=inf"], "report_score: 'inf' is not a finite number"),
        (["--param", "min_conns=nan"], "min_conns: 'nan' is not a finite number"),
        (["--param", "min_conns=-4"], "--param min_conns=-4.0: must be a finite number >= 0"),
        (["--param", "report_score=2"], "a score or share is at most 1"),
        (["--no-egress", "10.0.0.300/24"], "--no-egress '10.0.0.300/24' is not a CIDR"),
        (["--internal", "nonsense"], "--internal 'nonsense' is not a CIDR"),
    ],
)
def test_bad_options_are_usage_errors(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert run_cli(_hunt(logs, tmp_path / "out", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err.replace("\n", " ")
    assert "Traceback" not in err


def test_out_that_is_a_file_or_cannot_be_created(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "report.txt"
    a_file.write_text("x")
    for cmd, paths in (("hunt", logs), ("scan", logs), ("host", logs)):
        assert run_cli([cmd, str(paths), "--out", str(a_file)]) == 2
        assert f"--out {a_file} is a file" in capsys.readouterr().err
        assert run_cli([cmd, str(paths), "--out", str(a_file / "sub")]) == 2
        assert "cannot create it" in capsys.readouterr().err
    assert a_file.read_text() == "x"


def test_every_command_exits_1_on_an_empty_folder_and_says_so_first(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for cmd in ("hunt", "host", "scan"):
        out = tmp_path / cmd
        res = run_cli_subprocess([cmd, str(empty), "--out", str(out)])
        assert res.returncode == 1, (cmd, res.stderr)
        assert b"no input could be analysed" in res.stderr
        assert b"No findings." not in res.stdout
        assert b"Nothing could be analysed" in res.stdout
        doc = report(out)
        assert {"path": str(empty), "reason": "no files in the folder"} in doc["not_analysed"]


def test_nothing_from_input_is_printed_raw(tmp_path: Path) -> None:
    """A file name and a Zeek field name holding ESC c (which resets a terminal), BEL and a
    bidi override: every byte printed on stdout or stderr is escaped."""
    folder = tmp_path / "in\x1bc"
    bad = "\x1bc\x07\u202e"
    log = folder / f"conn{bad}.log"
    folder.mkdir()
    log.write_text(
        "#separator \\x09\n#path\tconn\n"
        f"#fields\tts\tuid\tev{bad}il\n#types\ttime\tstring\tcount\n"
        "1318550400.0\tC1\t5\n1318550460.0\tC2\tnot-a-count\n1318550520.0\tC3\t7\n"
    )
    (folder / f"lure{bad}.docx").write_bytes(b"PK\x03\x04 not really a zip")
    out = tmp_path / "out"
    res = run_cli_subprocess(["-v", "hunt", str(folder), "--out", str(out), "--no-progress"])
    assert res.returncode == 0, res.stderr
    printed = res.stdout + res.stderr
    assert b"\\x1bc" in printed  # it was printed, escaped
    for raw in (b"\x1b", b"\x07", "\u202e".encode()):
        assert raw not in printed
    doc = report(out)
    assert any("line 6" in w for w in doc["warnings"])  # the bad count, named by line
