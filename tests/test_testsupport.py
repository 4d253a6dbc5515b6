"""The test helpers' own behaviour: real data missing fails in CI and skips elsewhere; the
CPU-time bound stops a runaway body; `make test` runs derandomized Hypothesis examples."""

from __future__ import annotations

import pytest
from hypothesis import settings

from testsupport import OverBudget, cpu_bounded, fuzz_examples, need_shared_data


def test_missing_shared_data_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no-such-file\.bin is missing"):
        need_shared_data("docs", "no-such-file.bin")


def test_missing_shared_data_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"no-such-file\.bin is missing"):
        need_shared_data("docs", "no-such-file.bin")


def test_cpu_bound_stops_a_busy_loop() -> None:
    with pytest.raises(OverBudget), cpu_bounded(0.2):
        while True:
            pass


def test_make_test_runs_fixed_examples() -> None:
    import os

    if os.environ.get("DUQHUNT_HYPOTHESIS", "default") == "default":
        assert settings.default.derandomize and settings.default.database is None
        assert fuzz_examples(60) == 60
    else:
        assert not settings.default.derandomize and fuzz_examples(60) > 60
