"""Progress says bytes and the file being read, not "0/1 files".

The hunt reports its ingest step in bytes of all the input (so a big conn.log among small logs
moves the bar by its size) with the name of the file it reads next; the terminal shows "read of
total" bytes, the file name and the time left, and for a one-part step (a host scan) no
meaningless "0/1".
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from duqhunt.cli.main import _Amount, _Remaining, _short_name
from duqhunt.hunt import HuntOptions, hunt

DATA = Path(__file__).resolve().parents[1] / "data" / "zeek"


def test_ingest_progress_is_in_bytes_with_the_file_name(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(DATA / "401trg_psexec_equivalent", logs)
    sizes = {p.name: p.stat().st_size for p in logs.iterdir()}
    calls: list[tuple[str, int, int, str]] = []

    def record(step: str, done: int, total: int, detail: str = "", /) -> None:
        calls.append((step, done, total, detail))

    hunt(HuntOptions(inputs=(logs,), out=tmp_path / "out", threads=1), record)
    ingest = [c for c in calls if c[0] == "ingest"]
    assert {c[2] for c in ingest} == {sum(sizes.values())}
    named = [c for c in ingest if c[3]]
    assert sorted(c[3] for c in named) == sorted(sizes)
    # before each file: the bytes of the files already read
    done = 0
    for _, seen, _, name in named:
        assert seen == done
        done += sizes[name]
    assert ingest[-1][1:3] == (done, done)


def test_the_columns_say_bytes_and_time_left_not_zero_of_one() -> None:
    bar = Progress(console=Console(file=None, width=100))
    read = bar.add_task("ingest conn.log", total=3_500_000_000, bytes=True)
    bar.update(read, completed=1_250_000_000)
    assert _Amount().render(bar.tasks[0]).plain == "1.2 GB/3.3 GB"
    assert _Remaining().render(bar.tasks[0]).plain.startswith("eta ")
    bar.add_task("host", total=1)
    assert _Amount().render(bar.tasks[1]).plain == ""
    assert _Remaining().render(bar.tasks[1]).plain == ""
    detect = bar.add_task("detect", total=9)
    bar.update(detect, completed=4)
    assert _Amount().render(bar.tasks[2]).plain == "4/9"


def test_a_long_or_hostile_file_name_is_cut_at_its_start_and_shown_printable() -> None:
    name = "x" * 60 + "_conn.log"
    assert _short_name(name) == "\u2026" + name[-39:]
    assert "\x1b" not in _short_name("conn\x1b[2J.log")
