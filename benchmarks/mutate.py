"""`make mutate`: a mutation score for detectors/, sources/ and model/, plus the detector SQL.

Two mutation runs, one report (benchmarks/results-mutation.md):

* Python: mutmut (3.8.x) over src/duqhunt/{detectors,sources,model}. Each *group* below maps
  some modules to the tests that speak for them; a group gets its own work folder
  (build/mutate/py-<group>/) holding a copy of the tree, so mutmut's one-time "stats" pass
  (which records which test reaches which function) runs only the group's tests, and each
  mutant then runs only the tests that reached its function. The full mutant set is large
  (thousands for 14k lines), so a deterministic sample (``--sample`` per package, ``--seed``)
  is tested; results are kept in the work folders, so a second run with the same seed resumes
  (a tested mutant is not tested again unless its module changed; after a change of the tests
  the survivors are tested again, and the map of tests is made again unless tests were only
  added).
* SQL: our own mutator for src/duqhunt/detectors/net/sql/*.sql. One change at a time on a copy
  of the package: a comparison operator (<, <=, >, >=, =, <>) swapped, AND <-> OR, a numeric
  constant +1, -1 or x2, one term of a WHERE/HAVING/ON conjunction dropped. Each mutant runs the
  network detector tests (DuckDB only, stop at the first failure). Results are kept in
  build/mutate/sql/results.json keyed by the mutant's id, so runs resume.

Both run side by side and stop at ``--budget-min`` (wall clock); whatever was not reached is
reported as "not run". Surviving mutants are listed with a reason from
benchmarks/mutation-reasons.yaml ("equivalent" or "accepted gap"; "unexamined" when absent).

    python benchmarks/mutate.py [--sample 60] [--seed 19] [--budget-min 45] [--jobs 2]
    python benchmarks/mutate.py --report-only      # re-render the report from kept results
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import fnmatch
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PKG = SRC / "duqhunt"
SQL_DIR = PKG / "detectors" / "net" / "sql"
REASONS = ROOT / "benchmarks" / "mutation-reasons.yaml"
RESULTS = ROOT / "benchmarks" / "results-mutation.md"
BIN = Path(sys.executable).parent

PACKAGES = ("detectors", "sources", "model")


@dataclass(frozen=True)
class Group:
    """Modules (globs relative to the repository) and the tests that speak for them."""

    name: str
    package: str
    modules: tuple[str, ...]
    tests: tuple[str, ...]
    # tests that cannot run under mutmut (node ids): a test that starts Python in another
    # folder imports the instrumented code there, whose trampoline then cannot find mutmut's
    # config, so the group's stats run fails and no mutant gets a verdict
    deselect: tuple[str, ...] = ()


# The module -> tests map. A mutant runs only the tests of its group that reached the mutated
# function in the group's stats pass. Add a line here when a new module or test file appears.
GROUPS: tuple[Group, ...] = (
    Group(
        "model",
        "model",
        ("src/duqhunt/model/*",),
        # test_grouped_findings.py: model/grouping.py on findings built in the tests
        ("tests/model", "tests/render", "tests/hunt/test_grouped_findings.py"),
        ("tests/render/test_report_only.py::test_every_renderer_reads_only_report_json",),
    ),
    Group(
        "detectors-host",
        "detectors",
        ("src/duqhunt/detectors/host/*",),
        # every tests/host file that runs a detector on hand-built events or files; not the
        # fuzz, disk-image and EVTX-reader tests (they speak for sources/host)
        (
            "tests/host/test_host_scan.py",
            "tests/host/test_sigma.py",
            "tests/host/test_temp_files_behaviour.py",
            "tests/host/test_onward_connections.py",
            "tests/host/test_local_persistence.py",
            "tests/host/test_share_access.py",
            "tests/host/test_served_pipe_edges.py",
            "tests/host/test_host_breadth.py",
            "tests/host/test_credential_access.py",
            "tests/host/test_rdp_and_wmi_subscription.py",
        ),
    ),
    Group(
        "sources-host",
        "sources",
        ("src/duqhunt/sources/host/*",),
        ("tests/host",),
    ),
    Group(
        "sources-net",
        "sources",
        ("src/duqhunt/sources/net/*",),
        ("tests/sources", "tests/pcap"),
    ),
    Group(
        "detectors-net",
        "detectors",
        (
            "src/duqhunt/detectors/net/*",
            "src/duqhunt/detectors/base.py",
            "src/duqhunt/detectors/contract.py",
            "src/duqhunt/detectors/outputs.py",
            "src/duqhunt/detectors/registry.py",
            # the one SMB share classification (Python and SQL) that lateral.sql and the
            # host share-access detectors both use
            "src/duqhunt/detectors/shares.py",
        ),
        # the hunt-level tests on small hand-built logs; not tests/hunt/test_lateral_and_bridge.py
        # (five simulated campaigns, six minutes: it reaches every function of the package, so
        # each surviving mutant would pay for it again)
        (
            "tests/detectors",
            "tests/hunt/test_host_names.py",
            "tests/hunt/test_zones_and_blocked_egress.py",
            "tests/host/test_share_access.py",
        ),
    ),
    Group(
        "detectors-doc",
        "detectors",
        ("src/duqhunt/detectors/doc/*",),
        (
            "tests/docs/test_doc_scan.py",
            "tests/docs/test_font_structure.py",
            "tests/docs/test_font_spec.py",
        ),
    ),
    Group(
        "sources-office",
        "sources",
        ("src/duqhunt/sources/office/*",),
        (
            "tests/docs/test_doc_scan.py",
            "tests/docs/test_font_structure.py",
            "tests/docs/test_font_spec.py",
            "tests/docs/test_mtx.py",
            "tests/docs/test_font_fuzz.py",
        ),
    ),
)

# The SQL mutants' tests: network detectors on DuckDB (the Spark parity tests are deselected),
# per SQL file; a file not listed runs SQL_TESTS. Keep fast, specific tests first: a mutant
# stops at its first failing test, and a survivor pays for every test listed. The simulated
# campaigns (tests/hunt/test_lateral_and_bridge.py, about a minute each) are left out: what
# they check of a SQL file is checked on small hand-built logs by the tests listed here.
_NET = "tests/detectors/test_network_detectors.py"
_PREV = "tests/detectors/test_prevalence_severity.py"
_C2 = "tests/detectors/test_c2_ranking.py"
_HELPERS = "tests/detectors/test_sql_helpers.py"
_LATERAL = (
    "tests/detectors/test_lateral_real_equivalents.py",
    "tests/detectors/test_lateral_shares_and_tooling.py",
)
_ZONES = ("tests/hunt/test_zones_and_blocked_egress.py",)
SQL_TESTS = ("tests/detectors", *_ZONES, "tests/hunt/test_host_names.py")
SQL_TESTS_BY_FILE: dict[str, tuple[str, ...]] = {
    "ioc_match.sql": ("tests/detectors/test_ioc_behaviour.py", _NET),
    "periodicity.sql": ("tests/detectors/test_periodicity.py", _PREV, _NET, _C2, *_ZONES),
    "beacon_sessions.sql": (_HELPERS, _PREV, _NET, _C2),
    "c2_evidence.sql": (_HELPERS, _PREV, _NET, _C2),
    "c2_conn_hours.sql": (_HELPERS, _PREV, _NET, _C2),
    "ip_names.sql": (
        f"{_HELPERS}::test_ip_names_collect_dns_sni_and_http_host_names_of_an_address",
        _PREV,
        _NET,
        _C2,
    ),
    "http_shape.sql": (_HELPERS, _NET, _C2),
    "smb_clients.sql": (_HELPERS, *_ZONES),
    "jpeg_post.sql": (
        f"{_HELPERS}::test_jpeg_post_counts_bare_address_uploads_and_the_ones_a_proxy_forwards",
        _NET,
    ),
    "rare_ua.sql": (
        f"{_HELPERS}::test_rare_ua_flags_an_internal_host_sending_a_rare_second_user_agent_to_few_places",
        _NET,
    ),
    "proxies.sql": (_HELPERS, _NET, _C2, *_ZONES),
    "bridge_correlation.sql": (_HELPERS, *_ZONES),
    "host_names.sql": (
        f"{_HELPERS}::test_host_names_take_kerberos_machine_accounts_and_not_user_principals",
        "tests/hunt/test_host_names.py",
    ),
    "lateral.sql": (
        "tests/detectors/test_lateral_shares_and_tooling.py"
        "::test_lateral_sql_pairs_writes_and_executions_as_its_header_says",
        *_LATERAL,
    ),
    "admin_sources.sql": (
        "tests/detectors/test_lateral_shares_and_tooling.py"
        "::test_admin_sources_sql_learns_sources_busy_on_at_least_half_their_days",
        *_LATERAL,
    ),
    "account_home.sql": (
        "tests/detectors/test_lateral_shares_and_tooling.py"
        "::test_account_home_sql_keeps_ordinary_logons_and_leaves_out_the_moves",
        *_LATERAL,
    ),
    "relay_sessions.sql": (
        f"{_HELPERS}::test_relay_sessions_are_the_smb_sessions_no_egress_hosts_open_to_internal_hosts",
        *_ZONES,
    ),
    "zones.sql": _ZONES,
    "egress_session.sql": (
        f"{_HELPERS}::test_direct_attempts_are_what_no_egress_hosts_originate_to_the_outside",
        *_ZONES,
    ),
    "pipes.sql": (
        f"{_HELPERS}::test_pipes_are_the_named_pipes_and_ipc_connects_of_no_egress_hosts",
        *_ZONES,
    ),
    "direct_attempts.sql": (
        f"{_HELPERS}::test_direct_attempts_are_what_no_egress_hosts_originate_to_the_outside",
        *_ZONES,
    ),
}
SQL_TEST_FILTER = "not spark"

STATUS = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "killed",  # caught by type check
}


def _log(msg: str) -> None:
    print(f"[mutate {dt.datetime.now(dt.UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


NICE = {"level": 10}  # --nice


def _nice() -> list[str]:
    """Run a child at niceness --nice in all, not that much more than this process: under
    ``make mutate`` (itself under nice -n 10) a second +10 put the tests at 19, where a loaded
    machine gave them a few per cent of a core."""
    return ["nice", "-n", str(max(0, NICE["level"] - os.nice(0)))]


def _existing(paths: Iterable[str]) -> list[str]:
    """The test paths (or pytest node ids, path::name) whose file exists."""
    return [p for p in paths if (ROOT / p.split("::", 1)[0]).exists()]


def _tree_hash(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for base in paths:
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for p in files:
            inner = p.relative_to(base).parts if p != base else ()
            if "__pycache__" in p.parts or any(x.startswith(".") for x in inner):
                continue  # caches (a .mypy_cache of a type check run in tests/) are no tests
            h.update(str(p.relative_to(ROOT)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _test_parts(base: Path) -> dict[str, str]:
    """The parts of the files under ``base``, each with a hash: every top-level function or
    class (``file::name``: tests, fixtures, helpers; decorators included, line numbers not),
    import and assignment of a Python file, the rest of that file (``file``), and every other
    file whole."""
    out: dict[str, str] = {}
    for p in sorted(base.rglob("*")):
        if not p.is_file() or "__pycache__" in p.parts:
            continue
        if any(x.startswith(".") for x in p.relative_to(base).parts):
            continue  # caches (.mypy_cache, .pytest_cache) are no tests
        rel = str(p.relative_to(ROOT))
        if p.suffix != ".py":
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            continue
        rest = hashlib.sha256()
        for node in ast.parse(p.read_text(encoding="utf-8")).body:
            text = ast.dump(node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out[f"{rel}::{node.name}"] = _short(text)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                out[f"{rel}::{text}"] = "import"
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                out[f"{rel}::=" + ",".join(ast.dump(t) for t in targets)] = _short(text)
            else:
                rest.update(text.encode())
        out[rel] = rest.hexdigest()
    return out


def _only_added(old: dict[str, str], new: dict[str, str]) -> bool:
    """True when the tests changed only by additions (new test functions, helpers, imports,
    files other than a conftest.py): every part the old map knew is there unchanged, or was a
    part of a Python file that is gone (a removed test)."""
    if any(k.split("::")[0].endswith("conftest.py") for k in new.keys() - old.keys()):
        return False  # a new fixture in a conftest.py can change what every test reaches
    return all(new.get(k) == v for k, v in old.items() if k in new or "::" not in k)


def _short(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


# --------------------------------------------------------------------------- Python (mutmut)


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def _group_dir(work: Path, g: Group) -> Path:
    return work / f"py-{g.name}"


def _sync_sources(gdir: Path, g: Group) -> None:
    """Bring the group's copy of src/ up to date file by file. A changed module of the group
    loses its mutants and results (mutmut makes them again); any other changed file is copied
    into mutmut's tree as well, so the tests run against today's code."""
    wanted = {
        str(p.relative_to(ROOT)): p
        for p in SRC.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    have = {
        str(p.relative_to(gdir)): p
        for p in (gdir / "src").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    changed = 0
    for rel in sorted(set(have) - set(wanted)):
        have[rel].unlink()
        for extra in (gdir / "mutants").glob(rel + "*"):
            extra.unlink()
        changed += 1
    for rel, path in sorted(wanted.items()):
        copy = gdir / rel
        if copy.exists() and copy.read_bytes() == path.read_bytes():
            continue
        changed += 1
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
        mutated = rel.endswith(".py") and any(fnmatch.fnmatch(rel, m) for m in g.modules)
        for extra in (gdir / "mutants").glob(rel + "*"):
            if mutated:
                extra.unlink()  # the module and its .meta: mutmut makes its mutants again
        if not mutated and (gdir / "mutants" / "src").exists():
            (gdir / "mutants" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, gdir / "mutants" / rel)
    if changed:
        _log(f"{g.name}: {changed} source file(s) changed since the last run")
        (gdir / "generated.txt").unlink(missing_ok=True)


def _prepare_group(work: Path, g: Group, keep: bool = False) -> Path:
    """A folder with a copy of the tree and a mutmut config for this group.

    A changed source file of the group's modules loses its mutants and results (they are made
    and run again); other source files are copied in; a change of the tests copies them again
    and re-runs the mutants that survived or had no test (a new test can kill them; a killed
    mutant stays killed). ``keep`` (report only) never touches the folder.
    """
    gdir = _group_dir(work, g)
    if keep and gdir.exists():
        return gdir
    src_fp = f"{_mutmut_version()}|{g.modules}"
    tests_fp = _tree_hash([ROOT / "tests"])
    stamp, tstamp = gdir / "fingerprint.txt", gdir / "tests-fingerprint.txt"
    tmap = gdir / "tests-map.json"  # _test_parts of the tests the map was made from
    if stamp.exists() and stamp.read_text() == src_fp:
        _sync_sources(gdir, g)
    else:
        if gdir.exists():
            _log(f"{g.name}: modules or mutmut version changed, rebuilding {gdir}")
            shutil.rmtree(gdir)
        gdir.mkdir(parents=True)
        shutil.copytree(SRC, gdir / "src", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(
            ROOT / "tests", gdir / "tests", ignore=shutil.ignore_patterns("__pycache__", ".*")
        )
        # tests/conftest.py finds the shared public data two levels above tests/ (mutants/..)
        shared = ROOT.parent / "shared"
        if shared.exists():
            (gdir / "shared").symlink_to(shared)
        stamp.write_text(src_fp)
        tstamp.write_text(tests_fp)
        tmap.write_text(json.dumps(_test_parts(ROOT / "tests")))
    if tstamp.read_text() != tests_fp:
        _log(f"{g.name}: tests changed, copying them and re-running survivors")
        for dest in (gdir / "tests", gdir / "mutants" / "tests"):
            if dest.parent.exists():
                shutil.copytree(
                    ROOT / "tests",
                    dest,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".*"),
                )
        # mutmut maps new test names itself (a run of only those tests); a changed test or
        # helper keeps its old map, so then the whole map is made again (one run of the
        # group's tests)
        parts = _test_parts(ROOT / "tests")
        old = json.loads(tmap.read_text()) if tmap.exists() else None
        if old is None or not _only_added(old, parts):
            (gdir / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
        else:
            _log(f"{g.name}: only new tests, mutmut maps them to the code they reach")
        tmap.write_text(json.dumps(parts))
        for meta in (gdir / "mutants").rglob("*.py.meta"):
            data = json.loads(meta.read_text())
            codes = data["exit_code_by_key"]
            for name, code in codes.items():
                if code is not None and STATUS.get(code) in ("survived", "no tests"):
                    codes[name] = None
            meta.write_text(json.dumps(data))
        tstamp.write_text(tests_fp)
    # tests/pcap/test_zeek_parity.py loads benchmarks/zeek_parity.py (its harness), and
    # tests/detectors/test_conformance.py reads docs/detectors.md: without a copy beside the
    # tests the group's stats run fails and no mutant runs (detectors-net got no verdict in
    # four passes that way)
    for dest in (gdir, gdir / "mutants"):
        if dest.exists():
            shutil.copytree(
                ROOT / "benchmarks",
                dest / "benchmarks",
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.md", "*.json"),
            )
            shutil.copytree(ROOT / "docs", dest / "docs", dirs_exist_ok=True)
    # the config is written every run: a changed test list is seen by mutmut's own config
    # fingerprint, which re-runs its stats and the verdicts that depend on them
    cfg = "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["src"]',
            'also_copy = ["benchmarks", "docs"]',
            f"only_mutate = {json.dumps(list(g.modules))}",
            f"pytest_add_cli_args_test_selection = {json.dumps(_existing(g.tests))}",
            "pytest_add_cli_args = "
            + json.dumps(
                ["-p", "no:cacheprovider", "-q"]
                + [a for node in g.deselect for a in ("--deselect", node)]
            ),
            "use_git_change_detection = false",
            # mutmut's per-mutant bound is a wall clock of (estimate + 1 s) x this (and twice
            # that in CPU seconds); the estimate is the stats run's wall time, so a mutant run
            # while the machine is busier than during the stats run can be cut short. A
            # timeout is therefore retried (_retry_timeouts) before it counts.
            "timeout_multiplier = 10.0",
            "",
        ]
    )
    (gdir / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + cfg)
    return gdir


_GENERATE = """
from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_mutants, setup_source_paths
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants({jobs})
"""


def _generate(gdir: Path, jobs: int, g: Group) -> None:
    if (gdir / "generated.txt").exists():
        return
    busy = gdir / "generating.txt"
    if busy.exists():
        # a generation was stopped half-way: mutmut trusts a mutated file that is newer than
        # its source, even a truncated one (the tests then fail to import it), so the group's
        # mutated modules and their results go and are made again
        _log(f"{g.name}: the last generation was interrupted, making the mutants again")
        base = gdir / "mutants"
        for path in list((base / "src").rglob("*.py*")) if (base / "src").exists() else []:
            rel = str(path.relative_to(base)).removesuffix(".meta")
            if any(fnmatch.fnmatch(rel, m) for m in g.modules):
                path.unlink()
    busy.write_text("started")
    subprocess.run(
        [*_nice(), sys.executable, "-c", _GENERATE.format(jobs=jobs)],
        cwd=gdir,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (gdir / "generated.txt").write_text("ok")
    busy.unlink()


def _metas(gdir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    base = gdir / "mutants"
    for meta in sorted(base.rglob("*.py.meta")):
        rel = str(meta.relative_to(base))[: -len(".meta")]
        yield rel, json.loads(meta.read_text())


def _mutants_of(gdir: Path, g: Group) -> dict[str, tuple[str, int | None]]:
    """mutant name -> (source path, exit code or None when not run) for the group's modules."""
    out: dict[str, tuple[str, int | None]] = {}
    for rel, meta in _metas(gdir):
        if not any(fnmatch.fnmatch(rel, m) for m in g.modules):
            continue
        for name, code in meta["exit_code_by_key"].items():
            out[name] = (rel, code)
    return out


def _sample(names: list[str], n: int, seed: int, key: str) -> list[str]:
    """The first n of a seeded shuffle: a larger sample extends a smaller one, so the results
    of a short run count in a longer one with the same seed."""
    names = sorted(names)
    if n <= 0 or n >= len(names):
        return names
    random.Random(f"{seed}:{key}").shuffle(names)
    return sorted(names[:n])


# `mutmut run`, less one redundant pass: mutmut runs the mutants' tests once without a mutant
# ("clean tests") on every call, to check they pass. Right after a full stats run that check is
# done already (the stats run fails when a test fails), and on two loaded cores it cost as long
# as the stats run itself, so it is skipped then; after stats loaded from an earlier run (or
# only new tests mapped) the clean run goes ahead as mutmut does it.
_MUTMUT_RUN = """
import sys
import mutmut.__main__ as m
full = []
_stats, _get = m.run_stats_collection, m.get_mutant_runner
def _run_stats(runner, tests=None):
    _stats(runner, tests)
    if tests is None:
        full.append(True)
def _runner(n):
    r = _get(n)
    clean = r.run_clean_tests
    r.run_clean_tests = lambda tests: 0 if full else clean(tests)
    return r
m.run_stats_collection, m.get_mutant_runner = _run_stats, _runner
sys.argv = ["mutmut", *sys.argv[1:]]
sys.exit(m.cli())
"""


def _run_group(
    gdir: Path, names: list[str], jobs: int, deadline: float, hard: float | None = None
) -> None:
    """Run mutmut on these mutants until ``deadline`` (the group's share of the time). A group
    still in its first test run (the stats that map tests to functions) at its deadline runs
    on to ``hard`` (the whole run's bound) or until the stats are written: mutmut keeps them
    only once complete, so stopping there would throw the group's whole share away."""
    left = deadline - time.monotonic()
    hard = deadline if hard is None else max(hard, deadline)
    if not names or hard - time.monotonic() <= 30:
        return
    cmd = [*_nice(), sys.executable, "-c", _MUTMUT_RUN, "run", "--max-children", str(jobs)]
    cmd += names
    log = (gdir / "mutmut-run.log").open("a")
    proc = subprocess.Popen(
        cmd, cwd=gdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    stats = gdir / "mutants" / "mutmut-stats.json"
    try:
        proc.wait(timeout=max(left, 1))
    except subprocess.TimeoutExpired:
        while not stats.exists() and time.monotonic() < hard - 5:
            try:
                proc.wait(timeout=min(10, hard - time.monotonic()))
                break
            except subprocess.TimeoutExpired:
                continue
    if proc.poll() is None:
        _log(f"{gdir.name}: time bound reached, stopping mutmut (finished mutants are kept)")
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log.close()


TIMEOUT_TRIES = 2  # a mutant counts as hanging when it timed out this many times


def _is_timeout(code: int | None) -> bool:
    return code is not None and STATUS.get(code) == "timeout"


def _timeout_tries(gdir: Path) -> dict[str, int]:
    path = gdir / "timeout-tries.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _retry_timeouts(gdir: Path, g: Group, names: list[str], jobs: int, deadline: float) -> None:
    """Run the mutants that timed out again until they time out TIMEOUT_TRIES times or reach
    another verdict. mutmut's bound is partly wall clock, so on a shared machine a first
    timeout may be the load, not the mutant: counted as killed it would inflate the score, and
    a mutant that survives its retry is a survivor."""
    tries = _timeout_tries(gdir)
    for _ in range(TIMEOUT_TRIES):
        codes = _mutants_of(gdir, g)
        again = [
            n for n in names if _is_timeout(codes[n][1]) and tries.get(n, 0) + 1 < TIMEOUT_TRIES
        ]
        if not again or deadline - time.monotonic() <= 60:
            return
        for n in again:
            tries[n] = tries.get(n, 0) + 1
        (gdir / "timeout-tries.json").write_text(json.dumps(tries, indent=1, sort_keys=True))
        _reset_codes(gdir, set(again))
        _log(f"{g.name}: {len(again)} timed-out mutants run again")
        _run_group(gdir, again, jobs, deadline)


def _reset_codes(gdir: Path, names: set[str]) -> None:
    """Forget mutmut's verdict for these mutants (it runs them again on the next call)."""
    for meta in (gdir / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        codes = data["exit_code_by_key"]
        hit = names & codes.keys()
        for n in hit:
            codes[n] = None
        if hit:
            meta.write_text(json.dumps(data))


def _timeout_status(gdir: Path, name: str) -> str:
    """'timeout' once the mutant timed out on every try, else 'retry' (to run again)."""
    return "timeout" if _timeout_tries(gdir).get(name, 0) + 1 >= TIMEOUT_TRIES else "retry"


def _mutmut_diff(gdir: Path, name: str) -> str:
    res = subprocess.run(
        [str(BIN / "mutmut"), "show", name], cwd=gdir, capture_output=True, text=True, check=False
    )
    lines = res.stdout.splitlines()
    return "\n".join(line for line in lines if not line.startswith("# ")).strip()


def _diff_line(source: Path, diff: str) -> int | None:
    """The mutated line's number in the original file, from the function-local diff."""
    lines = diff.splitlines()
    body = [ln for ln in lines if not ln.startswith(("---", "+++"))]
    removed = next((ln[1:] for ln in body if ln.startswith("-")), None)
    if removed is None:
        return None
    first = next((ln[1:] for ln in body if ln[:1] in (" ", "-") and ln[1:].strip()), None)
    text = source.read_text(encoding="utf-8").splitlines()
    starts = [i for i, t in enumerate(text) if first is not None and t.strip() == first.strip()]
    for start in starts or [0]:
        for i in range(start, len(text)):
            if text[i].strip() == removed.strip():
                return i + 1
    return None


@dataclass
class Mutant:
    kind: str  # "py" or "sql"
    package: str
    name: str
    path: str
    status: str
    line: int | None = None
    diff: str = ""
    id: str = ""


def python_run(args: argparse.Namespace, work: Path, deadline: float) -> list[Mutant]:
    # --groups picks the groups that run; the sample is still drawn over every group of the
    # package whose mutants exist, so slices run one group at a time add up to one sample (the
    # other groups' kept results are reported as they are)
    groups: list[Group] = []
    prepared: dict[str, Path] = {}
    all_names: dict[str, dict[str, tuple[str, int | None]]] = {}
    for g in GROUPS:
        if g.package not in args.packages:
            continue
        runs = not args.groups or g.name in args.groups
        if runs:
            gdir = _prepare_group(work, g, keep=args.report_only)
            if not args.report_only:
                _log(f"{g.name}: generating mutants")
                _generate(gdir, args.jobs, g)
        else:
            gdir = _group_dir(work, g)
            if not (gdir / "generated.txt").exists():
                continue
        groups.append(g)
        prepared[g.name] = gdir
        all_names[g.name] = _mutants_of(gdir, g) if (gdir / "mutants").exists() else {}
    running = [g for g in groups if not args.groups or g.name in args.groups]
    # the sample: per package, over the package's groups together
    chosen: dict[str, list[str]] = {g.name: [] for g in groups}
    for pkg in args.packages:
        pool = [
            (gn, n) for gn, names in all_names.items() for n in names if gn.split("-")[0] == pkg
        ]
        picked = _sample([f"{gn}\t{n}" for gn, n in pool], args.sample, args.seed, pkg)
        for item in picked:
            gn, n = item.split("\t")
            chosen[gn].append(n)
    if not args.report_only:
        # one group after the other, cheapest tests first (GROUPS order). Each gets an even
        # share of the time left (what one does not use passes to the next), so a slow group
        # cannot keep every later package from a score; a second round then gives whatever is
        # left to the groups that did not finish. A group still in its first test run at the
        # end of its share runs on until that run is complete (mutmut keeps the map of tests
        # only then), so a budget much shorter than the groups' test runs reaches fewer groups
        # rather than none.
        for rnd in (1, 2):
            pending = [
                g for g in running if any(all_names[g.name][n][1] is None for n in chosen[g.name])
            ]
            for k, g in enumerate(pending):
                todo = [n for n in chosen[g.name] if all_names[g.name][n][1] is None]
                left = deadline - time.monotonic()
                if left <= 60:
                    _log(f"{g.name}: no time left, {len(todo)} mutants not run")
                    continue
                until = deadline if rnd == 2 else time.monotonic() + left / (len(pending) - k)
                mins = (until - time.monotonic()) / 60
                _log(f"{g.name}: {len(todo)} mutants to run (round {rnd}, {mins:.0f} min)")
                _run_group(prepared[g.name], todo, args.jobs, until, deadline)
                all_names[g.name] = _mutants_of(prepared[g.name], g)
        for g in running:
            _retry_timeouts(prepared[g.name], g, chosen[g.name], args.jobs, deadline)
            all_names[g.name] = _mutants_of(prepared[g.name], g)
    out: list[Mutant] = []
    for g in groups:
        for n in chosen[g.name]:
            path, code = all_names[g.name][n]
            status = "not run" if code is None else STATUS.get(code, "suspicious")
            if status == "timeout":
                status = _timeout_status(prepared[g.name], n)
            m = Mutant("py", g.package, n, path, status)
            if status in ("survived", "suspicious", "timeout", "retry", "no tests"):
                m.diff = _mutmut_diff(prepared[g.name], n)
                m.line = _diff_line(ROOT / path, m.diff)
                body = [ln for ln in m.diff.splitlines()[2:] if ln[:1] in "+-"]
                m.id = "m-" + _short(path + "\n" + "\n".join(body))
            out.append(m)
    return out


# --------------------------------------------------------------------------- SQL mutator

_TOKEN = re.compile(
    r"(?P<comment>--[^\n]*)"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<param>:[A-Za-z_]\w*)"
    r"|(?P<number>(?<![\w.])\d+(?:\.\d+)?(?![\w.]))"
    r"|(?P<op><>|<=|>=|!=|=|<|>)"
    r"|(?P<word>[A-Za-z_]\w*)"
    r"|(?P<open>\()|(?P<close>\))",
)
_SWAP_OPS = ("<", "<=", ">", ">=", "=", "<>")
_CLAUSE_END = {
    "GROUP",
    "ORDER",
    "HAVING",
    "WINDOW",
    "QUALIFY",
    "LIMIT",
    "UNION",
    "SELECT",
    "JOIN",
    "LEFT",
    "RIGHT",
    "INNER",
    "FULL",
    "CROSS",
    "WHERE",
    "ON",
}


@dataclass(frozen=True)
class SqlMutant:
    file: str
    line: int
    kind: str
    start: int
    end: int
    replacement: str
    original: str

    column: int = 0  # of the start on its line: one operator can occur twice on a line

    @property
    def id(self) -> str:
        return "s-" + _short(
            f"{self.file}\n{self.kind}\n{self.original}\n{self.replacement}\n{self.line}"
            f"\n{self.column}"
        )

    def apply(self, text: str) -> str:
        return text[: self.start] + self.replacement + text[self.end :]


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def sql_mutants(path: Path) -> list[SqlMutant]:
    """Every single-change mutant of one SQL file (comments and string literals untouched)."""
    text = path.read_text(encoding="utf-8")
    rel = str(path.relative_to(ROOT))
    every = list(_TOKEN.finditer(text))
    toks = [m for m in every if m.lastgroup not in ("comment", "string")]
    out: list[SqlMutant] = []
    seen: set[tuple[int, int, str]] = set()

    def add(kind: str, start: int, end: int, repl: str) -> None:
        if (start, end, repl) in seen:
            return  # the constant 1 gives 2 both as +1 and as x2: one mutant
        seen.add((start, end, repl))
        column = start - (text.rfind("\n", 0, start) + 1)
        line = _line_of(text, start)
        out.append(SqlMutant(rel, line, kind, start, end, repl, text[start:end], column))

    # a LIKE suffix pattern loses its label boundary: '%.' -> '%' (evil.com matches notevil.com)
    for t in every:
        if t.lastgroup == "string" and "%." in t.group():
            add("like pattern", t.start(), t.end(), t.group().replace("%.", "%"))
    # one alternative of a parenthesised OR dropped: (a OR b) -> (a), (b)
    for i, t in enumerate(toks):
        if t.lastgroup != "open":
            continue
        depth, cuts, close = 0, [t.end()], None
        for u in toks[i + 1 :]:
            if u.lastgroup == "open":
                depth += 1
            elif u.lastgroup == "close":
                if depth == 0:
                    close = u.start()
                    break
                depth -= 1
            elif depth == 0 and u.lastgroup == "word" and u.group().upper() == "OR":
                cuts += [u.start(), u.end()]
            elif depth == 0 and u.lastgroup == "word" and u.group().upper() in _CLAUSE_END:
                close = None  # a subquery or CTE body, not a condition
                break
        if close is None or len(cuts) < 3:
            continue
        cuts.append(close)
        alts = [(cuts[k], cuts[k + 1]) for k in range(0, len(cuts), 2)]
        for k, (a, b) in enumerate(alts):
            start, stop = (a, alts[1][0]) if k == 0 else (alts[k - 1][1], b)
            add("dropped term", start, stop, "")

    for t in toks:
        g, v = t.lastgroup, t.group()
        if g == "op":
            v = "<>" if v == "!=" else v
            for alt in _SWAP_OPS:
                if alt != v:
                    add("operator", t.start(), t.end(), alt)
        elif g == "word" and v.upper() in ("AND", "OR"):
            add("and/or", t.start(), t.end(), "OR" if v.upper() == "AND" else "AND")
        elif g == "number":
            num = float(v) if "." in v else int(v)
            # PERCENTILE_CONT fractions and LAG/ROUND arguments are constants too; keep them
            for changed in (num + 1, num - 1, num * 2):
                # not ``text``: that is the file, which add() and the dropped terms below read
                lit = repr(round(changed, 6)) if isinstance(changed, float) else str(changed)
                if lit != v:
                    add("constant", t.start(), t.end(), lit)
    # dropped terms: the top-level AND terms of each WHERE / HAVING / ON condition
    for i, t in enumerate(toks):
        if t.lastgroup != "word" or t.group().upper() not in ("WHERE", "HAVING", "ON"):
            continue
        depth = 0
        terms: list[tuple[int, int]] = []
        term_start = t.end()
        end = len(text)
        for u in toks[i + 1 :]:
            ug, uv = u.lastgroup, u.group().upper()
            if ug == "open":
                depth += 1
            elif ug == "close":
                if depth == 0:
                    end = u.start()
                    break
                depth -= 1
            elif depth == 0 and ug == "word" and uv in _CLAUSE_END:
                end = u.start()
                break
            elif depth == 0 and ug == "word" and uv == "AND":
                # BETWEEN x AND y is one term
                before = text[term_start : u.start()].upper()
                if re.search(r"\bBETWEEN\b", before) and not re.search(
                    r"\bBETWEEN\b.*\bAND\b", before
                ):
                    continue
                terms.append((term_start, u.start()))
                term_start = u.end()
        semi = text.find(";", term_start, end)
        end = semi if semi >= 0 else end
        # stop a trailing clause at a CTE boundary: "),\nname AS ("
        tail = re.search(r"\)\s*,\s*\w+\s+AS\s*\(", text[term_start:end])
        if tail:
            end = term_start + tail.start()
        terms.append((term_start, end))
        if len(terms) < 2:
            continue
        for k, (a, b) in enumerate(terms):
            if k == 0:
                start, stop = a, terms[1][0]  # drop "term AND "
            else:
                start, stop = terms[k - 1][1], b  # drop " AND term"
            frag = text[start:stop]
            keep_nl = "\n" if frag.rstrip(" ").endswith("\n") else " "
            add("dropped term", start, stop, keep_nl if k else " ")
    return out


def _run_sql_mutant(m: SqlMutant, copy: Path, timeout: float) -> str:
    target = copy / m.file
    original = (ROOT / m.file).read_text(encoding="utf-8")
    target.write_text(m.apply(original), encoding="utf-8")
    try:
        env = dict(os.environ, PYTHONPATH=str(copy / "src"), DUQHUNT_TEST="1")
        cmd = [
            *_nice(),
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        tests = SQL_TESTS_BY_FILE.get(Path(m.file).name, SQL_TESTS)
        cmd += ["-k", SQL_TEST_FILTER, "--rootdir", str(copy), *_existing(tests)]
        try:
            res = subprocess.run(
                cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            # on a shared machine a wall-clock limit says nothing about a hang: not a verdict
            return "not run"
        return {0: "survived", 1: "killed"}.get(res.returncode, f"error {res.returncode}")
    finally:
        target.write_text(original, encoding="utf-8")


def _sql_copy(work: Path, k: int) -> Path:
    copy = work / "sql" / f"w{k}"
    if copy.exists():
        shutil.rmtree(copy)
    copy.mkdir(parents=True)
    shutil.copytree(SRC, copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", copy / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", copy / "pyproject.toml")
    # tests/conftest.py looks for shared data two levels above tests/
    (copy.parent / "shared").unlink(missing_ok=True)
    if (ROOT.parent / "shared").exists():
        (copy.parent / "shared").symlink_to(ROOT.parent / "shared")
    return copy


def sql_run(args: argparse.Namespace, work: Path, deadline: float) -> list[Mutant]:
    store = work / "sql" / "results.json"
    done: dict[str, str] = json.loads(store.read_text()) if store.exists() else {}
    # a change of the tests re-runs the survivors (a new test may kill them; killed stays killed)
    tstamp = work / "sql" / "tests-fingerprint.txt"
    tests_fp = _tree_hash([ROOT / "tests"])
    if not args.report_only and (not tstamp.exists() or tstamp.read_text() != tests_fp):
        done = {k: v for k, v in done.items() if v == "killed"}
        tstamp.parent.mkdir(parents=True, exist_ok=True)
        tstamp.write_text(tests_fp)
    mutants = [m for p in sorted(SQL_DIR.glob("*.sql")) for m in sql_mutants(p)]
    by_id = {m.id: m for m in mutants}
    picked = _sample(list(by_id), args.sql_sample, args.seed, "sql")
    todo = [by_id[i] for i in picked if i not in done]
    if todo and not args.report_only and deadline - time.monotonic() > 30:
        _log(f"sql: {len(picked)} mutants in the sample, {len(todo)} to run")
        copies = [_sql_copy(work, k) for k in range(max(1, args.sql_jobs))]
        queue = list(todo)

        def worker(copy: Path) -> None:
            while queue and time.monotonic() < deadline - 20:
                try:
                    m = queue.pop(0)
                except IndexError:
                    break
                status = _run_sql_mutant(m, copy, deadline - time.monotonic())
                if status != "not run":
                    done[m.id] = status
                    store.write_text(json.dumps(done, indent=1, sort_keys=True))

        with ThreadPoolExecutor(len(copies)) as ex:
            list(ex.map(worker, copies))
        if queue:
            _log(f"sql: time bound reached, {len(queue)} mutants not run")
    out = []
    for i in picked:
        m = by_id[i]
        mm = Mutant("sql", "detectors (SQL)", m.kind, m.file, done.get(i, "not run"), m.line, id=i)
        if mm.status != "killed":
            src_line = (ROOT / m.file).read_text().splitlines()[m.line - 1]
            text = (ROOT / m.file).read_text()
            new = m.apply(text)
            new_line = new.splitlines()[m.line - 1] if m.kind != "dropped term" else ""
            mm.diff = (
                f"-{src_line}\n+{new_line}"
                if m.kind != "dropped term"
                else (f"drop: {m.original.strip()}")
            )
        out.append(mm)
    return out


# --------------------------------------------------------------------------- report


def _reasons() -> dict[str, dict[str, str]]:
    if not REASONS.exists():
        return {}
    data = yaml.safe_load(REASONS.read_text()) or {}
    return {str(k): v for k, v in data.items()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@dataclass
class Score:
    killed: int = 0
    survived: int = 0
    timeout: int = 0
    no_tests: int = 0
    not_run: int = 0
    other: int = 0
    population: int = 0
    notes: list[str] = field(default_factory=list)


def _score(ms: list[Mutant]) -> Score:
    s = Score()
    for m in ms:
        if m.status == "killed":
            s.killed += 1
        elif m.status == "timeout":
            s.timeout += 1
        elif m.status == "survived":
            s.survived += 1
        elif m.status == "no tests":
            s.no_tests += 1
        elif m.status in ("not run", "retry"):
            s.not_run += 1
        else:
            s.other += 1
    return s


def _fmt_pct(k: int, n: int) -> str:
    return f"{100.0 * k / n:.1f} %" if n else "-"


def write_report(
    args: argparse.Namespace,
    py: list[Mutant],
    sql: list[Mutant],
    populations: dict[str, int],
    secs: float,
) -> None:
    reasons = _reasons()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Mutation testing (`make mutate`)",
        "",
        f"Command: `python benchmarks/mutate.py --sample {args.sample} --sql-sample {args.sql_sample}"
        f" --seed {args.seed} --budget-min {args.budget_min} --jobs {args.jobs}"
        f" --sql-jobs {args.sql_jobs}"
        + (f" --groups {' '.join(args.groups)}" if args.groups else "")
        + "`"
        f" (mutmut {_mutmut_version()}); last run took {secs / 60:.1f} min.",
        f"Machine: {os.cpu_count()} CPUs ({_cpu_model()}), shared with other work; test runs"
        f" at niceness {args.nice}.",
        f"Date: {now}.",
        "",
        "How to read it: *killed* = a test failed on the mutant; *timeout* = the mutant hung a"
        f" test on each of {TIMEOUT_TRIES} tries (counted as killed; a first timeout on a busy"
        " machine may be the load, so it is run again and counted as *not run* until then);"
        " *no tests* = no test of the group reached the mutated function"
        " (counted as not killed); *not run* = the time bound stopped the run first (not in the"
        " score). Score = (killed + timeout) / (killed + timeout + survived + no tests)."
        " The Python figures are a deterministic sample per package (seed above) of the full"
        " mutant population given beside it; see docs/testing.md.",
        "",
        "| package | population | sampled | killed | timeout | survived | no tests | not run | score |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows: list[tuple[str, list[Mutant], int]] = [
        (p, [m for m in py if m.package == p], populations.get(p, 0)) for p in args.packages
    ]
    if sql:
        rows.append(("detectors/net/sql (own mutator)", sql, populations.get("sql", 0)))
    for label, ms, pop in rows:
        s = _score(ms)
        tested = s.killed + s.timeout + s.survived + s.no_tests
        lines.append(
            f"| {label} | {pop} | {len(ms)} | {s.killed} | {s.timeout} | {s.survived} |"
            f" {s.no_tests} | {s.not_run} | {_fmt_pct(s.killed + s.timeout, tested)} |"
        )
    lines += ["", "## Surviving mutants", ""]
    lines += [
        "Reasons come from benchmarks/mutation-reasons.yaml (key = the mutant id, or mutmut's"
        " mutant name);"
        " *unexamined* means nobody has looked yet.",
        "",
        "| id | package | where | mutation | status | reason |",
        "|---|---|---|---|---|---|",
    ]
    for m in [*py, *sql]:
        if m.status in ("killed", "timeout", "not run", "retry"):
            continue
        r = reasons.get(m.id) or reasons.get(m.name) or {}
        reason = r.get("reason", "unexamined")
        if r.get("note"):
            reason += ": " + r["note"]
        where = f"{m.path}:{m.line or '?'}"
        change = m.diff if m.kind == "sql" else m.name
        if m.kind == "py":
            body = [ln for ln in m.diff.splitlines()[2:] if ln[:1] in "+-"]
            change = " / ".join(ln.strip() for ln in body)[:300]
        change = change.replace("|", "\\|").replace("\n", " / ")
        lines.append(f"| {m.id} | {m.package} | {where} | `{change}` | {m.status} | {reason} |")
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _log(f"wrote {RESULTS}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--packages", nargs="+", default=list(PACKAGES), choices=PACKAGES)
    ap.add_argument("--sample", type=int, default=60, help="Python mutants per package (0: all)")
    ap.add_argument("--sql-sample", type=int, default=120, help="SQL mutants (0: all)")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--budget-min", type=float, default=45.0, help="wall-clock bound, minutes")
    ap.add_argument("--sql-jobs", type=int, default=1, help="SQL mutants run at once")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-python", action="store_true")
    ap.add_argument("--no-sql", action="store_true")
    ap.add_argument("--report-only", action="store_true", help="re-render from kept results")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "mutate")
    ap.add_argument("--nice", type=int, default=10, help="niceness of the test runs (in all)")
    ap.add_argument(
        "--groups",
        nargs="+",
        choices=[g.name for g in GROUPS],
        help="run only these module groups (the sample is still drawn over all generated groups"
        " of the package; the others' kept results are reported)",
    )
    args = ap.parse_args(argv)
    NICE["level"] = args.nice
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    end = t0 + args.budget_min * 60
    py: list[Mutant] = []
    sql: list[Mutant] = []
    populations: dict[str, int] = {}
    sql_thread = None
    if not args.no_sql:
        # the SQL mutants run beside mutmut (one worker by default), up to the same deadline
        sql_box: list[list[Mutant]] = []
        sql_thread = threading.Thread(
            target=lambda: sql_box.append(sql_run(args, args.work, end)), daemon=True
        )
        sql_thread.start()
    if not args.no_python:
        py = python_run(args, args.work, end)
        for g in GROUPS:
            gdir = _group_dir(args.work, g)
            if g.package in args.packages and (gdir / "generated.txt").exists():
                populations[g.package] = populations.get(g.package, 0) + len(_mutants_of(gdir, g))
    if sql_thread is not None:
        sql_thread.join()
        sql = sql_box[0] if sql_box else []
        populations["sql"] = sum(len(sql_mutants(p)) for p in SQL_DIR.glob("*.sql"))
    write_report(args, py, sql, populations, time.monotonic() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
