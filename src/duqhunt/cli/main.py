"""The duqhunt command line: thin. Parses arguments, owns logging and progress (stderr), maps
errors to exit codes (0 the hunt ran, 1 no input could be analysed, 2 usage or content error).
Results go to stdout; diagnostics to stderr."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from duqhunt import __version__
from duqhunt.errors import ContentError, DuqhuntError, InputError, UsageError
from duqhunt.intel.cli import INTEL_FORMATS, add_intel_parser
from duqhunt.model.finding import SEVERITIES
from duqhunt.model.report import ReportDocument
from duqhunt.safety import printable

EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"duqhunt: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a finite number")
    return name.strip(), number


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1")
    return number


def _spark_conf(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _hunt_input(text: str) -> Path | str:
    """A local path, or a URI (s3a://, hdfs://, file://...) kept as text for Spark."""
    from duqhunt.engines.base import is_uri

    return text if is_uri(text) else Path(text)


def _add_sigma(p: argparse.ArgumentParser) -> None:
    """--sigma, the same for `hunt` and `host`."""
    p.add_argument(
        "--sigma",
        action="append",
        type=Path,
        default=[],
        metavar="RULES",
        help="Sigma rules (SigmaHQ format; a .yml file or a folder) run over the event logs "
        "with the built-in pack; rules that do not parse are reported as warnings",
    )


def _add_min_severity(p: argparse.ArgumentParser, where: str) -> None:
    """--min-severity, the same for `hunt` and `report`."""
    p.add_argument(
        "--min-severity",
        choices=SEVERITIES,
        metavar="LEVEL",
        help=f"only findings of this severity or above ({', '.join(SEVERITIES)}) in {where}; "
        "the number left out is printed",
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="duqhunt", description="Hunt Duqu-class intrusions in Zeek logs.")
    p.add_argument("--version", action="version", version=f"duqhunt {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (stderr)")
    p.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    h = sub.add_parser("hunt", help="ingest Zeek logs into a case and hunt them")
    h.add_argument(
        "--hide-benign",
        action="store_true",
        help="leave findings an analyst marked benign (duqhunt serve) out of the terminal "
        "summary and report.html; report.json keeps them with their verdict",
    )
    _add_min_severity(h, "the terminal summary (the report files keep every finding)")
    h.add_argument(
        "inputs",
        nargs="+",
        type=_hunt_input,
        help="Zeek log files or folders (TSV/JSON, .gz) and pcap/pcapng captures; with "
        "--engine spark also URIs (s3a://, hdfs://, abfss://, gs://, file://; globs allowed)",
    )
    h.add_argument("--out", type=Path, required=True, help="output folder for the report files")
    h.add_argument(
        "--case", type=Path, help="case store file shared across runs (default OUT/case.duckdb)"
    )
    h.add_argument(
        "--internal",
        nargs="+",
        metavar="CIDR",
        help="internal networks (default: RFC 1918 and fc00::/7)",
    )
    h.add_argument(
        "--ioc",
        action="append",
        type=Path,
        default=[],
        metavar="PACK.yaml",
        help="an IOC pack to add (repeatable)",
    )
    h.add_argument(
        "--no-builtin-iocs", action="store_true", help="do not load the shipped IOC packs"
    )
    h.add_argument(
        "--allow",
        action="append",
        type=Path,
        default=[],
        metavar="ALLOW.yaml",
        help="an allow-list of known-good periodic services (repeatable)",
    )
    h.add_argument(
        "--no-builtin-allow",
        action="store_true",
        help="do not load the shipped allow-list of periodic services",
    )
    h.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="NAME=VALUE",
        help="detector parameter, e.g. min_conns=6 or report_score=0.75",
    )
    h.add_argument(
        "--no-egress",
        nargs="+",
        metavar="CIDR",
        default=[],
        help="networks with no internet access of their own (secure zones); "
        "otherwise zones come from behaviour",
    )
    h.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="duckdb (embedded, default) or spark (scale-out; pip install 'duqhunt[spark]')",
    )
    h.add_argument(
        "--spark-master",
        metavar="URL",
        help="Spark master (spark://host:7077, yarn, k8s://...); default local[*]",
    )
    h.add_argument(
        "--spark-conf",
        action="append",
        type=_spark_conf,
        default=[],
        metavar="KEY=VALUE",
        help="a Spark setting (repeatable), e.g. spark.sql.shuffle.partitions=400 or "
        "spark.jars.packages=org.apache.hadoop:hadoop-aws:3.4.1",
    )
    h.add_argument(
        "--yara",
        action="append",
        type=Path,
        default=[],
        metavar="RULES",
        help="YARA rules for host evidence among the inputs (repeatable)",
    )
    _add_sigma(h)
    h.add_argument(
        "--tshark", metavar="PATH", help="tshark binary for pcap/pcapng inputs (default: PATH)"
    )
    h.add_argument("--threads", type=_positive_int, help="DuckDB threads (default: all cores)")
    h.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="most memory DuckDB may use, e.g. 8GB (default: 80%% of RAM); past it, it spills "
        "to disk next to the case",
    )
    h.add_argument(
        "--temp-limit",
        metavar="SIZE",
        help="most disk DuckDB may spill to, e.g. 50GB (default: 90%% of the free space); a "
        "detector that needs more fails with a warning and the hunt goes on",
    )
    h.add_argument("--no-progress", action="store_true", help="no progress bars")

    o = sub.add_parser("host", help="analyse host evidence: triage folders, hives, EVTX, drivers")
    o.add_argument("paths", nargs="+", type=Path, help="triage folders, mounted images, artefacts")
    o.add_argument("--out", type=Path, required=True, help="output folder for the report files")
    o.add_argument(
        "--yara",
        action="append",
        type=Path,
        default=[],
        metavar="RULES",
        help="a YARA rules file or folder to add to duqhunt's own (repeatable)",
    )
    o.add_argument(
        "--known-good",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="known-good service installs in the format of content/host/known-good.yaml, "
        "added to the built-in list (repeatable)",
    )
    _add_sigma(o)

    d = sub.add_parser("scan", help="scan documents and fonts for the installer (embedded fonts)")
    d.add_argument("paths", nargs="+", type=Path, help="files or folders (searched recursively)")
    d.add_argument("--out", type=Path, required=True, help="output folder for the report files")
    d.add_argument(
        "--yara",
        action="append",
        type=Path,
        default=[],
        metavar="RULES",
        help="YARA rules to run over every file and embedded object (repeatable)",
    )
    d.add_argument("--jobs", type=_positive_int, help="parallel processes (default: all cores)")
    d.add_argument(
        "--extract",
        type=Path,
        metavar="DIR",
        help="write de-obfuscated fonts and embedded objects here (never executed)",
    )

    s = sub.add_parser("simulate", help="write a synthetic Duqu-style campaign as Zeek logs")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--hosts", type=int, help="hosts in the enterprise")
    s.add_argument("--days", type=float, help="days of telemetry")
    s.add_argument("--clean", action="store_true", help="no intrusion at all")
    s.add_argument("--gzip", action="store_true", help="write .log.gz files")
    s.add_argument(
        "--blocked-egress",
        action="store_true",
        help="the secure zone tries the internet anyway and the sensor logs the firewall-blocked "
        "attempts; infected no-egress hosts try their C&C directly before relaying",
    )
    s.add_argument(
        "--user-shares",
        action="store_true",
        help="benign: hidden user shares (Users$, Home$, Profiles$) with Office temp files",
    )
    s.add_argument(
        "--software-push",
        action="store_true",
        help="benign: a deployment server pushing a client to workstations as a service in waves",
    )
    s.add_argument(
        "--admin-psexec",
        action="store_true",
        help="benign: administrators running PsExec from their workstations to servers",
    )
    s.add_argument(
        "--benign-periodic",
        action="store_true",
        help="add benign services more regular than the C&C (licence heartbeats, IP cameras, "
        "AV manifest checks, a UPS poll, a backup check-in)",
    )
    s.add_argument(
        "--beacon-profile",
        choices=("http", "low_slow", "custom443", "tls_nosni", "proxy"),
        help="how the implant reaches its C&C (default http)",
    )
    s.add_argument("--beacon-jitter", type=float, help="beacon jitter in [0, 1) (default 0.2)")
    s.add_argument("--beacon-interval", type=float, help="beacon interval, seconds (default 600)")

    r = sub.add_parser("report", help="re-render a saved report.json without re-analysis")
    r.add_argument("report", type=Path)
    r.add_argument(
        "--hide-benign",
        action="store_true",
        help="leave out findings marked benign in triage (text, csv and html)",
    )
    _add_min_severity(r, "text, csv and html output")

    m = sub.add_parser(
        "similar",
        help="which PE files (EXE, DLL, SYS) are one family, and which match a known family",
    )
    m.add_argument(
        "paths", nargs="+", type=Path, help="PE files or folders (searched for MZ files)"
    )
    m.add_argument("--out", type=Path, required=True, help="folder for similarity.json and .html")
    m.add_argument(
        "--ref",
        type=Path,
        action="append",
        default=[],
        help="a reference pack (YAML of hashes) or a folder whose sub-folders are families of "
        "known samples (repeatable)",
    )
    m.add_argument("--no-builtin-refs", action="store_true", help="do not use the shipped packs")
    m.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")

    w = sub.add_parser(
        "serve",
        help="a local web app over a case: browse, filter and triage its findings",
    )
    w.add_argument("case", type=Path, help="the folder a hunt wrote (--out), or its case.duckdb")
    w.add_argument("--port", type=int, default=8765, help="TCP port (0: any free port)")
    w.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default loopback only; anything else is reachable from the "
        "network and prints a warning)",
    )
    w.add_argument("--token", help="access token (default: a random one, printed in the URL)")
    w.add_argument("--analyst", help="name recorded with your verdicts (default: the OS user)")
    r.add_argument(
        "--format",
        choices=("text", "json", "jsonl", "html", "csv", *INTEL_FORMATS),
        default="text",
        help="text (terminal summary, default), json, jsonl, html, csv (one row per finding, "
        "UTF-8 with a byte order mark for spreadsheets) or an intel format",
    )
    add_intel_parser(sub)
    return p


class _Printable(logging.Filter):
    """Every log line shown as printable text: file names, field names and values from input
    reach stderr with control characters escaped (an ESC c would reset the terminal)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = printable(message, keep_lines=True)
        record.args = ()
        return True


def _setup_logging(verbose: int, quiet: bool, console: Console) -> None:
    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    root = logging.getLogger()
    root.handlers.clear()
    handler = RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
    handler.addFilter(_Printable())
    root.addHandler(handler)
    root.setLevel(level)


def _cmd_hunt(args: argparse.Namespace, err: Console, out: Console) -> int:
    from duqhunt.hunt import DEFAULT_INTERNAL, HuntOptions, hunt

    opts = HuntOptions(
        inputs=tuple(args.inputs),
        out=args.out,
        case=args.case,
        internal=tuple(args.internal) if args.internal else DEFAULT_INTERNAL,
        ioc_packs=tuple(args.ioc),
        allowlists=tuple(args.allow),
        builtin_iocs=not args.no_builtin_iocs,
        builtin_allowlists=not args.no_builtin_allow,
        params=tuple(args.param),
        threads=args.threads,
        memory_limit=args.memory_limit,
        temp_limit=args.temp_limit,
        no_egress=tuple(args.no_egress),
        engine=args.engine,
        spark_master=args.spark_master,
        spark_conf=tuple(args.spark_conf),
        tshark=args.tshark,
        yara=tuple(args.yara),
        sigma=tuple(args.sigma),
    )
    show = not args.no_progress and not args.quiet
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        _Amount(),
        TimeElapsedColumn(),
        _Remaining(),
        console=err,
        transient=True,
        disable=not show,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(step: str, done: int, total: int, detail: str = "", /) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total, bytes=step == "ingest")
            text = f"{step} {_short_name(detail)}" if detail else step
            bar.update(tasks[step], completed=done, total=total, description=text)

        doc = hunt(opts, progress)
    return _deliver(
        doc, args.out, err, out, hide_benign=args.hide_benign, min_severity=args.min_severity
    )


def _short_name(name: str, width: int = 40) -> str:
    """A file name for the progress line: printable, its end kept when too long."""
    text = printable(name)
    return text if len(text) <= width else "\u2026" + text[-(width - 1) :]


class _Amount(ProgressColumn):
    """Bytes read of all the input's bytes for ingest ("1.2/3.4 GB"), "M/N" for steps of
    several parts, nothing for a single step (a host scan is one step: "0/1" says nothing)."""

    def render(self, task: Task) -> Text:
        total = int(task.total or 0)
        done = int(task.completed)
        if task.fields.get("bytes"):
            from duqhunt.render.common import format_bytes

            return Text(f"{format_bytes(done)}/{format_bytes(total)}", style="progress.download")
        return Text(f"{done}/{total}" if total > 1 else "", style="progress.download")


class _Remaining(ProgressColumn):
    """The time left, for ingest only: the one step whose size is known up front."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("bytes") or task.finished:
            return Text("")
        left = task.time_remaining
        if left is None:
            return Text("eta -:--:--", style="progress.remaining")
        return Text(f"eta {TimeRemainingColumn().render(task).plain}", style="progress.remaining")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _deliver(
    doc: ReportDocument,
    out_dir: Path,
    err: Console,
    out: Console,
    *,
    hide_benign: bool = False,
    min_severity: str | None = None,
) -> int:
    """Write the three outputs, print the summary, and map "nothing analysed" to exit 1.

    `min_severity` filters the terminal summary only (it says how many it left out)."""
    from duqhunt.hunt import analysed_anything
    from duqhunt.render import render_summary, write_outputs
    from duqhunt.render.common import at_least
    from duqhunt.triage import without_benign

    paths = write_outputs(doc, out_dir, hide_benign=hide_benign)
    nothing = not analysed_anything(doc) and not doc.verdicts
    if nothing:  # said first, before any summary
        _say(err, "duqhunt: no input could be analysed (see 'Not analysed' in the report)")
    shown = without_benign(doc) if hide_benign else doc
    render_summary(at_least(shown, min_severity) if min_severity else shown, out)
    out.print(
        printable(f"report: {paths['html']}  json: {paths['json']}  findings: {paths['jsonl']}"),
        markup=False,
        highlight=False,
    )
    return EXIT_NOTHING if nothing else EXIT_OK


def _cmd_host(args: argparse.Namespace, err: Console, out: Console) -> int:
    from duqhunt.hostscan import host_report, scan_host

    started = _now()
    res = scan_host(
        list(args.paths),
        yara_rules=tuple(args.yara),
        sigma_rules=tuple(args.sigma),
        known_good=tuple(args.known_good),
    )
    return _deliver(host_report(res, started, _now()), args.out, err, out)


def _cmd_scan(args: argparse.Namespace, err: Console, out: Console) -> int:
    from duqhunt.analysis import build_report
    from duqhunt.docscan import scan_documents

    started = _now()
    res = scan_documents(
        list(args.paths), yara_rules=tuple(args.yara), jobs=args.jobs, extract_dir=args.extract
    )
    doc = build_report([res], started=started, finished=_now(), engine="none", identities=False)
    return _deliver(doc, args.out, err, out)


def _cmd_simulate(args: argparse.Namespace, err: Console, out: Console) -> int:
    from duqhunt.simulate import SimConfig, simulate

    kwargs: dict[str, object] = {}
    if args.hosts is not None:
        kwargs["hosts"] = args.hosts
    if args.days is not None:
        kwargs["days"] = args.days
    if args.clean:
        kwargs["intrusion"] = False
    if args.gzip:
        kwargs["gzip"] = True
    if args.blocked_egress:
        kwargs["blocked_egress"] = True
    for opt in ("user_shares", "software_push", "admin_psexec"):
        if getattr(args, opt):
            kwargs[opt] = True
    if args.benign_periodic:
        kwargs["benign_periodic"] = True
    if args.beacon_profile is not None:
        kwargs["beacon_profile"] = args.beacon_profile
    if args.beacon_jitter is not None:
        kwargs["beacon_jitter"] = args.beacon_jitter
    if args.beacon_interval is not None:
        kwargs["beacon_interval_s"] = args.beacon_interval
    logs = args.out / "zeek"
    truth = simulate(logs, seed=args.seed, config=SimConfig(**kwargs), meta_dir=args.out)  # type: ignore[arg-type]
    from duqhunt.simulate.documents import write_lure
    from duqhunt.simulate.host import write_triage_folders

    triage = write_triage_folders(args.out / "host", truth, args.seed)
    lure = write_lure(args.out / "mail")
    c2 = ", ".join(c["ip"] for c in truth.get("c2", [])) or "none"
    out.print(
        f"wrote synthetic Zeek logs to {logs} (seed {args.seed}); planted C&C: {c2}; "
        f"{len(triage)} host triage folder(s) in {args.out / 'host'}; the lure {lure}; "
        f"ground truth and the enterprise allow-list in {args.out}"
    )
    return EXIT_OK


def _cmd_intel(args: argparse.Namespace, err: Console, out: Console) -> int:
    from duqhunt.intel.cli import run_intel

    return run_intel(args)


def _cmd_report(args: argparse.Namespace, err: Console, out: Console) -> int:
    from duqhunt.render import load_report, render_html, render_json, render_jsonl, render_summary
    from duqhunt.render.common import at_least, below_min_note
    from duqhunt.render.csvout import render_csv

    filtered = ("text", "html", "csv")
    if args.min_severity and args.format not in filtered:
        raise UsageError(
            f"--min-severity applies to --format {', '.join(filtered)}, not {args.format} "
            "(report.json and the exports keep every finding)"
        )
    doc = load_report(args.report)
    if args.hide_benign and args.format in filtered:
        from duqhunt.triage import without_benign

        doc = without_benign(doc)
    if args.min_severity:
        doc = at_least(doc, args.min_severity)
    if args.format in INTEL_FORMATS:
        from duqhunt.content import builtin_ioc_packs
        from duqhunt.intel.cli import render_intel_format

        sys.stdout.write(render_intel_format(doc, args.format, builtin_ioc_packs()))
        return EXIT_OK
    if args.format == "text":
        render_summary(doc, out)
    elif args.format == "csv":
        # bytes, so the file is UTF-8 with CRLF line ends whatever the platform's stdout is
        sys.stdout.flush()
        sys.stdout.buffer.write(render_csv(doc).encode("utf-8", errors="replace"))
        sys.stdout.buffer.flush()
        for note in (below_min_note(doc), _hidden_benign_note(doc)):
            if note:
                err.print(f"duqhunt: {note}", markup=False, highlight=False, soft_wrap=True)
    else:
        text = {"json": render_json, "jsonl": render_jsonl, "html": render_html}[args.format](doc)
        sys.stdout.write(text)
        note = below_min_note(doc)
        if note and args.format == "html":
            err.print(f"duqhunt: {note}", markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


def _hidden_benign_note(doc: ReportDocument) -> str | None:
    hidden = doc.stats.get("findings_hidden_benign")
    return (
        f"{hidden} finding(s) marked benign in triage left out (--hide-benign)" if hidden else None
    )


def _cmd_similar(args: argparse.Namespace, err: Console, out: Console) -> int:
    from duqhunt.render.similarity_text import render_similarity_summary
    from duqhunt.similarity import analyse, to_document, write_similarity

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    res = analyse(
        args.paths, refs=tuple(args.ref), builtin_refs=not args.no_builtin_refs, jobs=args.jobs
    )
    paths = write_similarity(res, _out_dir(args.out))
    render_similarity_summary(to_document(res), out)
    out.print(f"report: {paths['html']}  json: {paths['json']}", markup=False, highlight=False)
    if not res.files:
        err.print("duqhunt: no PE file could be analysed")
        return EXIT_NOTHING
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace, err: Console, out: Console) -> int:
    from duqhunt.web import serve

    return serve(
        args.case,
        host=args.host,
        port=args.port,
        token=args.token,
        analyst=args.analyst,
        announce=lambda text: out.print(text, markup=False, highlight=False, soft_wrap=True),
        warn=lambda text: err.print(text, markup=False, highlight=False, soft_wrap=True),
    )


def _say(console: Console, text: str) -> None:
    """One line of diagnostics, control characters from input escaped, no markup."""
    console.print(printable(text), markup=False, highlight=False, soft_wrap=True)


def _out_dir(path: Path) -> Path:
    """--out as a folder that exists (created if needed), or a clear UsageError."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} is a file; give a folder for the report files")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {path}: cannot create it ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"--out {path}: the folder is not writable")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    err = Console(stderr=True)
    out = Console(soft_wrap=False)
    _setup_logging(args.verbose, args.quiet, err)
    handlers = {
        "hunt": _cmd_hunt,
        "host": _cmd_host,
        "scan": _cmd_scan,
        "simulate": _cmd_simulate,
        "report": _cmd_report,
        "intel": _cmd_intel,
        "serve": _cmd_serve,
        "similar": _cmd_similar,
    }
    try:
        if getattr(args, "out", None) is not None and args.command in ("hunt", "host", "scan"):
            _out_dir(args.out)
        return handlers[args.command](args, err, out)
    except (UsageError, ContentError) as exc:
        _say(err, f"duqhunt: error: {exc}")
        return EXIT_USAGE
    except InputError as exc:
        _say(err, f"duqhunt: {exc.describe()}")
        return EXIT_NOTHING
    except DuqhuntError as exc:
        _say(err, f"duqhunt: {exc}")
        return EXIT_NOTHING
    except KeyboardInterrupt:
        err.print("duqhunt: interrupted; the case store keeps every file ingested so far")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
