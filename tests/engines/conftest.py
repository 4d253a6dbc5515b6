"""One Spark JVM for every engine test: the first hunt starts a local[2] session, later hunts
attach to it (DUQHUNT_SPARK_KEEP_SESSION keeps it running), and it stops after the last test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def spark_env() -> Iterator[None]:
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    from duqhunt.engines.spark import java_available

    if not java_available():
        pytest.skip("no Java runtime")
    old = {k: os.environ.get(k) for k in ("DUQHUNT_SPARK_KEEP_SESSION", "DUQHUNT_SPARK_MASTER")}
    os.environ["DUQHUNT_SPARK_KEEP_SESSION"] = "1"
    os.environ.setdefault("DUQHUNT_SPARK_MASTER", "local[2]")
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
