"""Zeek parity: duqhunt's capture conversion measured against Zeek's own test baselines.

    .venv/bin/python benchmarks/zeek_parity.py --zeek-git-dir PATH/zeek.git   # the full set
    .venv/bin/python benchmarks/zeek_parity.py                                # committed traces only

Zeek's test suite (zeek/zeek, ``testing/btest``) runs Zeek over small captures
(``testing/btest/Traces``) and keeps the logs it wrote (``testing/btest/Baseline``). This
harness picks every test under ``testing/btest/scripts/base/protocols/{smb,dce-rpc,ntlm,http,
dns,ssl,conn,krb}`` that reads one trace and whose baseline holds one of the logs below, runs
duqhunt's converter (duqhunt.sources.net.pcap) over the same trace and compares the rows.

Rows are paired per log by connection (the 5-tuple, either way round) and then by the best
agreement; a baseline row with no partner counts as missed. A row *agrees* when every
*detector field* of its log (the fields the detectors read: ``DETECTOR_FIELDS``) is equal;
the per-field table also counts every other field both sides write. Sets compare as sets,
times to the microsecond, uids and fuids are never compared (they are random in Zeek).

Where Zeek's test ran without an analyser, or the baseline does not describe the traffic,
the case is listed in ``EXCEPTIONS`` (a whole log), ``ROW_EXCEPTIONS`` (one row) or
``FIELD_EXCEPTIONS`` (one field) with the reason and left out of the totals (the reason is
still printed). With ``--zeek-git-dir`` the traces and baselines are read from a git directory of
zeek/zeek (``git show``); without it, the traces and baselines committed under
tests/data/pcap/zeek are used. The figures are written to benchmarks/results-pcap.md
(between the parity markers) and printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COMMITTED = ROOT / "tests" / "data" / "pcap" / "zeek"
RESULTS = HERE / "results-pcap.md"
BEGIN = "<!-- zeek-parity:begin -->"
END = "<!-- zeek-parity:end -->"

LOGS = (
    "conn",
    "dns",
    "http",
    "ssl",
    "files",
    "smb_files",
    "smb_mapping",
    "dce_rpc",
    "ntlm",
    "kerberos",
)
PROTOCOL_DIRS = ("smb", "dce-rpc", "ntlm", "http", "dns", "ssl", "conn", "krb", "ssh", "socks")

HOW_TO_GET = (
    "The full comparison reads Zeek's test traces and baselines from a git directory of "
    "zeek/zeek (no work tree needed):\n"
    "    git clone --bare --depth 1 https://github.com/zeek/zeek.git ~/zeek.git\n"
    "then: make bench ZEEK_GIT=~/zeek.git   (or python benchmarks/zeek_parity.py "
    "--zeek-git-dir ~/zeek.git; ZEEK_GIT in the environment works too)"
)

# the tests whose traces and baselines are committed under tests/data/pcap/zeek (--export):
# small, and each the regression case of one class of difference (tests/pcap/test_zeek_parity.py)
REGRESSION_TESTS = (
    "dce-rpc.context",  # drsuapi over TCP, named pipe from the bind_ack
    "dce-rpc.dce_rpc_netlogon",  # netlogon opnum 45
    "dce-rpc.ntlm-empty-av-pair-seq",  # ntlm row without AUTHENTICATE, empty AV pairs
    "dce-rpc.dce_rpc_ntlm",  # bad checksums on one side: kept (Zeek without -C drops them)
    "dns.binds",  # BIND's private signing records
    "dns.dynamic-update",  # UPDATE: pre:/del:/add: entries, named from the first record
    "dns.flip",  # a capture starting at the response: the flow is turned round
    "dns.loc",  # LOC answers
    "dns.multiple-txt-strings",  # one TXT answer of several strings
    "dns.notify",  # a response alone with no answer: no query name
    "dns.mdns-no-assoc",  # mDNS: no pairing by id, query from the answer
    "dns.rrsig",  # answer section only, TTLs aligned, lower-case names
    "http.http-connect",  # conn bytes, service http,smtp
    "http.http-09-content-length-confusion",  # a reply that began before its request
    "http.http-desynched",  # three replies to one request: paired in order, two alone
    "http.http-methods",  # methods tshark does not decode; replies without a request
    "krb.tgs",  # kerberos TGS exchange
    "krb.kinit",  # a TGS-REQ names the request body's service, not its TGT's (padata)
    "krb.krb-service-name",  # begins at the SYN-ACK: the originator's ACK establishes it (S1)
    "smb.smb2-create-delete-on-close",  # FILE_DELETE, repeated opens
    "smb.smb1-transaction-dcerpc",  # \PIPE\lsass, dssetup over SMB1
    "ssh.http-port-22",  # HTTP on the SSH port, found by content
    "ssl.dhe",  # a ClientHello without SNI
)

# the fields the detectors read, per log: a row agrees when all of these are equal
DETECTOR_FIELDS: dict[str, tuple[str, ...]] = {
    "conn": (
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "proto",
        "conn_state",
        "orig_bytes",
        "resp_bytes",
        "service",
    ),
    "dns": ("id.orig_h", "id.resp_h", "query", "answers", "TTLs", "rcode", "rcode_name"),
    "http": (
        "id.orig_h",
        "id.resp_h",
        "id.resp_p",
        "method",
        "host",
        "uri",
        "user_agent",
        "orig_mime_types",
    ),
    "ssl": ("id.orig_h", "id.resp_h", "id.resp_p", "server_name"),
    "files": ("source", "is_orig", "filename"),
    "smb_files": ("id.orig_h", "id.resp_h", "action", "path", "name"),
    "smb_mapping": ("id.orig_h", "id.resp_h", "path", "share_type"),
    "dce_rpc": ("id.orig_h", "id.resp_h", "named_pipe", "endpoint", "operation"),
    "ntlm": ("id.orig_h", "id.resp_h", "username", "domainname", "hostname"),
    "kerberos": ("id.orig_h", "id.resp_h", "request_type", "client", "service"),
}
NEVER = {
    "uid",
    "fuid",
    "uids",
    "orig_fuids",
    "resp_fuids",
    "conn_uids",
    "fuids",
    "tx_hosts",
    "rx_hosts",
    "analyzers",
}

# (test, log) -> why that baseline is not counted. Each was checked against the trace.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("smb.smb2-read-write", "smb_files"): (
        "the test changes Zeek's logging (redef SMB::logged_file_actions += FILE_READ, "
        "FILE_WRITE: every read and write request and response is a row); duqhunt logs the "
        "first read and write of each file"
    ),
    ("dce-rpc.dce_rpc_ntlm", "ntlm"): (
        "the test runs Zeek without -C, and every packet 10.10.10.120 sent carries a bad IP "
        "and TCP checksum (offloaded on the capturing host; tshark -o tcp.check_checksum:TRUE "
        "shows it): Zeek dropped that side, so its row holds only the server's CHALLENGE, with "
        "the roles turned round; Zeek's own dce-rpc/auth.zeek reads the trace with -C and sees "
        "10.10.10.120 as the originator. duqhunt keeps packets whatever their checksum and "
        "logs the AUTHENTICATE's user, domain and host"
    ),
}
# (test, log, baseline data row, counted from 1) -> why that row is not counted
ROW_EXCEPTIONS: dict[tuple[str, str, int], str] = {
    ("dce-rpc.mapi", "dce_rpc", 12): (
        "a request with no response before the capture ends (call 7, opnum 2, EcDoRpc): "
        "Zeek's script logs it when the connection is removed from the state the previous "
        "response left, so its row names that response's operation "
        "(EcRRegisterPushNotification) and round trip; duqhunt names the request's own"
    ),
}
# (test, log, field) -> why that field is not compared in that baseline
FIELD_EXCEPTIONS: dict[tuple[str, str, str], str] = {
    ("smb.smb3-multichannel", "smb_files", "path"): (
        "SMB3 multichannel: the tree was connected on the session's other channel; Zeek tracks "
        "trees per TCP connection and logs no path, tshark (and duqhunt) name the share"
    ),
}


@dataclass
class Case:
    test: str  # e.g. smb.smb2
    trace: str  # path under testing/btest/Traces
    bare: bool  # zeek -b: only the scripts the test loads
    loads: list[str]
    baselines: dict[str, str] = field(default_factory=dict)  # log -> text


# -- reading Zeek TSV ------------------------------------------------------------------------
def parse_tsv(text: str) -> tuple[list[str], dict[str, str], list[dict[str, str]]]:
    fields: list[str] = []
    types: dict[str, str] = {}
    sep = "\t"
    rows: list[dict[str, str]] = []
    tlist: list[str] = []
    for line in text.splitlines():
        if line.startswith("#separator"):
            sep = line.split(" ", 1)[1].encode().decode("unicode_escape")
            continue
        if line.startswith("#fields"):
            fields = line.split(sep)[1:]
            continue
        if line.startswith("#types"):
            tlist = line.split(sep)[1:]
            continue
        if line.startswith("#") or not line.strip():
            continue
        if not fields:  # btest-diff-cut writes the field names as a plain first line
            fields = line.split(sep)
            continue
        rows.append(dict(zip(fields, line.split(sep), strict=False)))
    types = dict(zip(fields, tlist, strict=False))
    return fields, types, rows


def masked(value: str | None) -> bool:
    """btest's canonifiers replace times and some ids with X; such a field is not compared."""
    return value is not None and "XXXX" in value


def norm(value: str | None, ztype: str) -> str:
    if value is None or value in ("-", "(empty)", ""):
        return ""
    if ztype.startswith("set["):
        return ",".join(sorted(value.split(",")))
    if ztype == "time":
        return f"{float(value):.6f}"
    if ztype == "interval":
        return f"{float(value):.6f}"
    if ztype.startswith("vector[interval") or ztype.startswith("vector[double"):
        return ",".join(f"{float(v):.6f}" for v in value.split(",") if v not in ("-", ""))
    return value


# -- picking the cases -----------------------------------------------------------------------
_ZEEK_RUN = re.compile(r"@TEST-EXEC:\s*zeek\b(.*)")


def _git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], capture_output=True, check=True
    ).stdout


def cases_from_git(git_dir: Path, commit: str) -> list[Case]:
    names = _git(git_dir, "ls-tree", "-r", "--name-only", commit, "testing/btest").decode()
    all_paths = set(names.splitlines())
    sizes: dict[str, int] = {}
    for line in (
        _git(git_dir, "ls-tree", "-r", "-l", commit, "testing/btest/Traces").decode().splitlines()
    ):
        meta, path = line.split("\t", 1)
        size = meta.split()[3]
        if size.isdigit():  # a file the mirror lacks (4 MiB or more) has no size
            sizes[path] = int(size)
    cases: list[Case] = []
    for path in sorted(all_paths):
        m = re.match(r"testing/btest/scripts/base/protocols/([^/]+)/([^/]+)\.(zeek|test)$", path)
        if not m or m.group(1) not in PROTOCOL_DIRS:
            continue
        test = f"{m.group(1)}.{m.group(2)}"
        bdir = f"testing/btest/Baseline/scripts.base.protocols.{test}"
        logs = [lg for lg in LOGS if f"{bdir}/{lg}.log" in all_paths]
        if not logs:
            continue
        src = _git(git_dir, "show", f"{commit}:{path}").decode("utf-8", "replace")
        runs = [r for r in _ZEEK_RUN.findall(src)]
        traces = [re.findall(r"\$TRACES/(\S+)", r) for r in runs]
        if len(runs) != 1 or len(traces[0]) != 1:
            continue  # several runs or traces: the baseline is not one capture's logs
        trace = "testing/btest/Traces/" + traces[0][0]
        if trace not in sizes:
            continue
        if sizes[trace] >= 4 * 1024 * 1024:
            continue  # the mirror keeps no file of 4 MiB or more
        case = Case(
            test=test,
            trace=trace,
            bare=" -b" in runs[0],
            loads=re.findall(r"^@load\s+(\S+)", src, re.M),
        )
        for lg in logs:
            text = _git(git_dir, "show", f"{commit}:{bdir}/{lg}.log").decode("utf-8", "replace")
            if "#fields" in text or "\tuid\t" in text:
                case.baselines[lg] = text  # a log, or the columns btest-diff-cut kept
        if case.baselines:
            cases.append(case)
    return cases


def export(git_dir: Path, commit: str, cases: list[Case]) -> None:
    """Copy the REGRESSION_TESTS' traces and baselines into tests/data/pcap/zeek."""
    chosen = [c for c in cases if c.test in REGRESSION_TESTS]
    missing = set(REGRESSION_TESTS) - {c.test for c in chosen}
    if missing:
        raise SystemExit(f"not found among the cases: {sorted(missing)}")
    shutil.rmtree(COMMITTED, ignore_errors=True)
    (COMMITTED / "baseline").mkdir(parents=True)
    manifest: dict[str, object] = {"commit": commit, "cases": {}}
    prov = [
        "# Zeek test traces and baseline logs (test data), from zeek/zeek",
        f"# commit {commit}, licence BSD-3-Clause (The Regents of the University of California",
        "# and the Zeek project). Copied by benchmarks/zeek_parity.py --export; no Zeek code.",
        "",
    ]
    for c in chosen:
        name = Path(c.trace).name
        (COMMITTED / name).write_bytes(_git(git_dir, "show", f"{commit}:{c.trace}"))
        prov.append(f"{name}\t{c.trace}\tBSD-3-Clause")
        bdir = COMMITTED / "baseline" / c.test
        bdir.mkdir()
        for lg, text in c.baselines.items():
            (bdir / f"{lg}.log").write_text(text)
            src = f"testing/btest/Baseline/scripts.base.protocols.{c.test}/{lg}.log"
            prov.append(f"baseline/{c.test}/{lg}.log\t{src}\tBSD-3-Clause")
        cases_m = manifest["cases"]
        assert isinstance(cases_m, dict)
        cases_m[c.test] = {
            "trace": c.trace,
            "bare": c.bare,
            "loads": c.loads,
            "logs": sorted(c.baselines),
        }
    (COMMITTED / "cases.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    (COMMITTED / "PROVENANCE").write_text("\n".join(prov) + "\n")
    print(f"exported {len(chosen)} tests to {COMMITTED}")


def cases_committed() -> list[Case]:
    manifest = json.loads((COMMITTED / "cases.json").read_text())
    out: list[Case] = []
    for test, spec in sorted(manifest["cases"].items()):
        c = Case(test=test, trace=spec["trace"], bare=spec["bare"], loads=spec["loads"])
        for lg in spec["logs"]:
            c.baselines[lg] = (COMMITTED / "baseline" / test / f"{lg}.log").read_text()
        out.append(c)
    return out


# -- running duqhunt and comparing ------------------------------------------------------------
def convert(trace: Path, work: Path) -> dict[str, str]:
    sys.path.insert(0, str(ROOT / "src"))
    from duqhunt.sources.net.pcap import PcapConverter, PcapLimits, find_tshark

    # Zeek logs every time; the reader's plausible span (traces stamped 1989) is not compared
    keep = PcapLimits(drop_implausible_times=False)
    res = PcapConverter(trace, find_tshark(), work, keep).convert()
    return {lg: p.read_text(errors="replace") for lg, p in res.logs.items()}


def _tuple_key(r: dict[str, str]) -> tuple[str, ...]:
    a = (r.get("id.orig_h", ""), r.get("id.orig_p", ""))
    b = (r.get("id.resp_h", ""), r.get("id.resp_p", ""))
    return tuple(sorted([a, b])[0] + sorted([a, b])[1])


def _source_key(r: dict[str, str]) -> tuple[str, ...]:
    return (r.get("source", ""),)  # files.log has no 5-tuple in current Zeek


@dataclass
class LogScore:
    rows: int = 0
    agree: int = 0
    all_agree: int = 0
    ours: int = 0
    fields: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    misses: list[str] = field(default_factory=list)


def compare(
    log: str,
    base_text: str,
    ours_text: str | None,
    score: LogScore,
    skip: frozenset[str],
    skip_rows: frozenset[int] = frozenset(),
) -> None:
    bfields, btypes, brows = parse_tsv(base_text)
    brows = [r for i, r in enumerate(brows, start=1) if i not in skip_rows]
    if ours_text is None:
        ofields, otypes, orows = [], {}, []
    else:
        ofields, otypes, orows = parse_tsv(ours_text)
    common = [f for f in bfields if f in ofields and f not in NEVER and f not in skip]
    det = [f for f in DETECTOR_FIELDS[log] if f in bfields and f not in skip]
    score.rows += len(brows)
    score.ours += len(orows)
    key = _source_key if log == "files" else _tuple_key
    groups: dict[tuple[str, ...], list[dict[str, str]]] = defaultdict(list)
    for r in orows:
        groups[key(r)].append(r)

    def eq(f: str, b: dict[str, str], o: dict[str, str]) -> bool:
        t = btypes.get(f, "string")
        if masked(b.get(f)):
            return True
        try:
            return norm(b.get(f), t) == norm(o.get(f), otypes.get(f, t))
        except ValueError:
            return False

    for b in brows:
        cands = groups.get(key(b), [])
        best: dict[str, str] | None = None
        best_s = (-1, -1)
        for o in cands:
            s = (sum(eq(f, b, o) for f in det), sum(eq(f, b, o) for f in common))
            if s > best_s:
                best, best_s = o, s
        if best is not None:
            cands.remove(best)
        for f in common:
            score.fields[f][1] += 1
            if best is not None and eq(f, b, best):
                score.fields[f][0] += 1
        if best is not None and all(eq(f, b, best) for f in det):
            score.agree += 1
            if all(eq(f, b, best) for f in common):
                score.all_agree += 1
        else:
            diffs = (
                ", ".join(
                    f"{f}: zeek {b.get(f)!r} duqhunt {best.get(f)!r}"
                    for f in det
                    if not eq(f, b, best)
                )
                if best is not None
                else "no row"
            )
            score.misses.append(diffs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--zeek-git-dir",
        type=Path,
        default=Path(os.environ["ZEEK_GIT"]) if os.environ.get("ZEEK_GIT") else None,
        help="a git directory of zeek/zeek, or a clone of it (default: $ZEEK_GIT)",
    )
    ap.add_argument(
        "--bench",
        action="store_true",
        help="as make bench runs it: without a Zeek git directory, say how to get one and "
        "check the committed traces only, leaving results-pcap.md alone",
    )
    ap.add_argument("--commit", default="HEAD", help="the zeek/zeek commit (default HEAD)")
    ap.add_argument("--only", help="run only tests whose name contains this")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every differing row")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--no-write", action="store_true", help="do not update results-pcap.md")
    ap.add_argument(
        "--export",
        action="store_true",
        help="copy the REGRESSION_TESTS traces and baselines into tests/data/pcap/zeek and stop",
    )
    args = ap.parse_args()
    if args.zeek_git_dir:  # make passes ZEEK_GIT quoted, so a ~ reaches here unexpanded
        args.zeek_git_dir = args.zeek_git_dir.expanduser()
    if args.zeek_git_dir and (args.zeek_git_dir / ".git").exists():
        args.zeek_git_dir = args.zeek_git_dir / ".git"  # a clone with a work tree
    if args.zeek_git_dir and not (args.zeek_git_dir / "HEAD").exists():
        print(
            f"{args.zeek_git_dir}: not a git directory of zeek/zeek\n{HOW_TO_GET}", file=sys.stderr
        )
        return 2
    if args.bench and not args.zeek_git_dir:
        print(
            f"Zeek parity: no Zeek git directory given.\n{HOW_TO_GET}\n"
            "Checking the traces committed under tests/data/pcap/zeek only "
            "(benchmarks/results-pcap.md keeps the full figures).",
            file=sys.stderr,
        )
        args.no_write = True
    if args.zeek_git_dir:
        commit = _git(args.zeek_git_dir, "rev-parse", args.commit).decode().strip()
        cases = cases_from_git(args.zeek_git_dir, commit)
        if args.export:
            export(args.zeek_git_dir, commit, cases)
            return 0
        source = f"zeek/zeek {commit} (git directory given with --zeek-git-dir)"
    else:
        manifest = json.loads((COMMITTED / "cases.json").read_text())
        commit = manifest["commit"]
        cases = cases_committed()
        source = f"zeek/zeek {commit}, the traces committed under tests/data/pcap/zeek"
    if args.only:
        cases = [c for c in cases if args.only in c.test]
    per_log: dict[str, LogScore] = defaultdict(LogScore)
    excluded: list[str] = []
    per_test: list[tuple[str, str, int, int]] = []
    tmp = Path(tempfile.mkdtemp(prefix="zeek-parity-"))
    try:
        for c in cases:
            if args.zeek_git_dir:
                trace = tmp / Path(c.trace).name
                trace.write_bytes(_git(args.zeek_git_dir, "show", f"{commit}:{c.trace}"))
            else:
                trace = COMMITTED / Path(c.trace).name
            work = tmp / ("out-" + c.test)
            try:
                ours = convert(trace, work)
            except Exception as exc:  # a failed case is a finding, not a stop
                ours = {}
                print(f"{c.test}: conversion failed: {exc}", file=sys.stderr)
            for lg, text in c.baselines.items():
                reason = EXCEPTIONS.get((c.test, lg))
                if reason:
                    excluded.append(f"`{c.test}` {lg}.log: {reason}")
                    continue
                s = LogScore()
                skip = frozenset(f for (t, g, f) in FIELD_EXCEPTIONS if t == c.test and g == lg)
                for f in sorted(skip):
                    excluded.append(
                        f"`{c.test}` {lg}.log field {f}: {FIELD_EXCEPTIONS[(c.test, lg, f)]}"
                    )
                skip_rows = frozenset(i for (t, g, i) in ROW_EXCEPTIONS if t == c.test and g == lg)
                for i in sorted(skip_rows):
                    excluded.append(
                        f"`{c.test}` {lg}.log row {i}: {ROW_EXCEPTIONS[(c.test, lg, i)]}"
                    )
                compare(lg, text, ours.get(lg), s, skip, skip_rows)
                per_test.append((c.test, lg, s.agree, s.rows))
                tot = per_log[lg]
                tot.rows += s.rows
                tot.agree += s.agree
                tot.all_agree += s.all_agree
                tot.ours += s.ours
                for f, (a, n) in s.fields.items():
                    tot.fields[f][0] += a
                    tot.fields[f][1] += n
                tot.misses += [f"{c.test}: {m}" for m in s.misses]
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = sum(s.rows for s in per_log.values())
    agree = sum(s.agree for s in per_log.values())
    lines = [
        BEGIN,
        "## Zeek parity: captures measured against Zeek's own test baselines",
        "",
        f"- command: `python benchmarks/zeek_parity.py{' --zeek-git-dir ZEEK_GIT' if args.zeek_git_dir else ''}`",
        f"- source: {source}; {len(cases)} tests, {len({c.trace for c in cases})} traces",
        "- a row agrees when every detector field of its log is equal (benchmarks/zeek_parity.py "
        "DETECTOR_FIELDS); 'all fields' when every field both sides write is equal too",
        "",
        "| log | baseline rows | agree | % | all fields | duqhunt rows |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for lg in LOGS:
        s = per_log.get(lg)
        if not s or not s.rows:
            continue
        lines.append(
            f"| {lg} | {s.rows} | {s.agree} | {100 * s.agree / s.rows:.0f} | {s.all_agree} | {s.ours} |"
        )
    lines.append(
        f"| **all** | {rows} | {agree} | **{100 * agree / max(rows, 1):.1f}** | "
        f"{sum(s.all_agree for s in per_log.values())} | {sum(s.ours for s in per_log.values())} |"
    )
    lines += ["", "Per field (rows where the field is equal / baseline rows that have it):", ""]
    for lg in LOGS:
        s = per_log.get(lg)
        if not s or not s.rows:
            continue
        parts = [
            f"{'**' + f + '**' if f in DETECTOR_FIELDS[lg] else f} {a}/{n}"
            for f, (a, n) in s.fields.items()
        ]
        lines.append(f"- {lg}: " + ", ".join(parts))
    if excluded:
        lines += ["", "Not counted (checked by hand; the reason):", ""]
        lines += [f"- {e}" for e in excluded]
    lines += ["", END]
    text = "\n".join(lines)
    print(text)
    if args.verbose:
        for lg, s in per_log.items():
            for m in s.misses:
                print(f"[{lg}] {m}", file=sys.stderr)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": rows,
                    "agree": agree,
                    "per_log": {k: [v.agree, v.rows] for k, v in per_log.items()},
                    "per_test": per_test,
                },
                indent=1,
            )
        )
    if not args.no_write:
        old = RESULTS.read_text() if RESULTS.exists() else ""
        if BEGIN in old and END in old:
            new = old[: old.index(BEGIN)] + text + old[old.index(END) + len(END) :]
        else:
            new = old.rstrip("\n") + "\n\n" + text + "\n"
        RESULTS.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
