"""Point 14 of issue #13: ``--engine spark`` on a 2-row input printed "Python worker exited
unexpectedly" twice and reported nothing. The hunt's empty views were built from an empty
Python list, whose tasks start Python worker processes; they are now built in the JVM, so a
hunt on Spark starts no Python worker at all, and the driver JVM duqhunt starts logs errors
only from its first line (Spark's start-up warnings said nothing about the hunt)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from duqhunt.hunt import HuntOptions, hunt

pytest.importorskip("pyspark", reason="the spark extra is not installed")

SRC = Path(__file__).resolve().parents[2] / "src"
HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\n"
)


def _two_rows(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "conn.log").write_text(
        HEADER
        + "1318550400.5\tC1\t10.0.0.5\t40000\t203.0.113.9\t443\ttcp\t1.5\n"
        + "1318550460.5\tC2\t10.0.0.5\t40001\t203.0.113.9\t443\ttcp\t1.5\n"
    )
    return folder


def _python_workers(spark: object) -> list[str]:
    """The Python worker processes (pyspark.daemon) the driver JVM has started."""
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    pid = str(jvm.java.lang.ProcessHandle.current().pid())
    ps = subprocess.run(["ps", "-eo", "ppid,args"], capture_output=True, text=True, check=True)
    return [
        line
        for line in ps.stdout.splitlines()
        if "pyspark.daemon" in line and line.split(None, 1)[0] == pid
    ]


def test_a_two_row_hunt_on_spark_starts_no_python_worker(tmp_path: Path, spark_env: None) -> None:
    from pyspark.sql import SparkSession

    logs = _two_rows(tmp_path / "logs")
    doc = hunt(HuntOptions(inputs=(logs,), out=tmp_path / "out", engine="spark"))  # type: ignore[arg-type]
    assert doc.stats["rows_conn"] == 2
    assert doc.warnings == []
    spark = SparkSession.getActiveSession()
    assert spark is not None  # kept for the next test by DUQHUNT_SPARK_KEEP_SESSION
    assert _python_workers(spark) == []


def test_the_spark_command_line_prints_no_warning(tmp_path: Path, spark_env: None) -> None:
    logs = _two_rows(tmp_path / "logs")
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUQHUNT_SPARK")}
    env["PYTHONPATH"] = f"{SRC}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env["DUQHUNT_SPARK_MASTER"] = "local[2]"
    args = ["hunt", str(logs), "--out", str(out), "--engine", "spark"]
    run = subprocess.run(
        [sys.executable, "-m", "duqhunt.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,  # a guard against a hang, not a measure
        check=False,
    )
    assert run.returncode == 0, run.stderr
    # the one line the java launcher itself prints for Spark's vector module is not a log
    lines = [
        line
        for line in run.stderr.splitlines()
        if line.strip() and not line.startswith("WARNING: Using incubator modules")
    ]
    assert lines == [], "\n".join(lines)
