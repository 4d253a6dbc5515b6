"""Point 9 of issue #13: rows read must add up. DuckDB's CSV reader drops a line longer than
its buffer (about 32 MB) without recording it; every ingested TSV file is now checked (rows
stored + rows skipped = data lines), a native reader that loses lines hands the file to the
exact reader, and the over-long line is a skipped row named by its line."""

from __future__ import annotations

import random
import resource
from pathlib import Path

import pytest
from hostile_builders import conn_log, conn_row, good_rows, report, run_cli

from duqhunt.sources.net.zeek_stream import count_empty_lines
from duqhunt.store import digest_file


def test_a_33_mb_line_is_a_skipped_row_named_by_line(tmp_path: Path) -> None:
    rows = good_rows(20)
    huge = conn_row("1318550500.0", 999).replace("ShADadFf", "S" * (33 << 20))
    rows.insert(10, huge)
    log = conn_log(tmp_path / "logs" / "conn.log", rows)
    header_lines = 7
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = tmp_path / "out"
    assert run_cli(["hunt", str(log.parent), "--out", str(out), "--no-progress"]) == 0
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    doc = report(out)
    (inp,) = doc["inputs"]
    assert (inp["status"], inp["rows"], inp["skipped_rows"]) == ("partial", 20, 1)
    line = header_lines + 11
    assert any(
        w == f"{log}, line {line}: line longer than the size limit; row skipped"
        for w in doc["warnings"]
    ), doc["warnings"]
    assert grown_mb < 512  # the long line is skipped in bounded pieces, never held whole


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64])
def test_counting_data_lines_across_chunk_edges(tmp_path: Path, chunk: int) -> None:
    """The one read beside the engine counts the lines that are not '#' lines; the empty lines
    among them are counted by a second read, only when the rows do not add up. Both counts hold
    wherever the chunks cut the text."""
    rng = random.Random(chunk)
    pieces = ["#h\n", "a\tb\n", "\n", "\r\n", "#c\n", "x\n", "y", "\r", "#"]
    for k in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 25)))
        if k % 3 == 0:
            text = text.rstrip("y")
        path = tmp_path / f"f{k}.log"
        path.write_bytes(text.encode())
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        counted = sum(1 for ln in lines if not ln.startswith("#"))
        empty = sum(1 for ln in lines if ln in ("", "\r"))
        got = digest_file(path, sha=False, lines=True, chunk_bytes=chunk).lines
        assert (got, count_empty_lines(path, chunk_bytes=chunk)) == (counted, empty), repr(text)
