"""The `duqhunt intel ...` subcommands and the STIX/MISP formats of `duqhunt report`, as
functions the CLI (cli/main.py) wires in: add_intel_parser(sub) and run_intel(args, out)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from duqhunt.content import IocPack, builtin_ioc_packs, load_ioc_pack
from duqhunt.errors import UsageError
from duqhunt.model.report import ReportDocument

if TYPE_CHECKING:
    from duqhunt.store import CaseStore

__all__ = ["INTEL_FORMATS", "add_intel_parser", "render_intel_format", "run_intel"]

#: extra formats for `duqhunt report --format`
INTEL_FORMATS = ("stix", "misp")


def render_intel_format(doc: ReportDocument, fmt: str, packs: list[IocPack] | None = None) -> str:
    """A saved report as a STIX 2.1 bundle or a MISP event (JSON text)."""
    data: dict[str, Any]
    if fmt == "stix":
        from duqhunt.intel.stix import to_stix_bundle

        data = to_stix_bundle(doc, packs or [])
    elif fmt == "misp":
        from duqhunt.intel.misp import to_misp_event

        data = to_misp_event(doc, packs or [])
    else:
        raise UsageError(f"unknown format {fmt!r}")
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def add_intel_parser(sub: Any) -> argparse.ArgumentParser:
    """Add `intel` with its subcommands to the CLI's subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "intel", help="intelligence: packs, sightings, STIX, MISP"
    )
    isub = p.add_subparsers(dest="intel_command", required=True)

    a = isub.add_parser(
        "add-sightings", help="merge sightings (CSV or JSON) into an intel pack file"
    )
    a.add_argument("file", type=Path)
    where = a.add_mutually_exclusive_group()
    where.add_argument(
        "--pack",
        type=Path,
        default=Path("intel/sightings.yaml"),
        help="intel pack file to merge into (created if missing; the default)",
    )
    where.add_argument(
        "--case",
        type=Path,
        help="keep the sightings in this hunt's case store instead (OUT or OUT/case.duckdb)",
    )

    r = isub.add_parser("report", help="victims table and map of an intel pack")
    r.add_argument("--pack", required=True, help="shipped pack name (duqu-2011) or a pack file")
    r.add_argument(
        "--sightings",
        type=Path,
        action="append",
        default=[],
        help="also add sightings from this CSV/JSON file (repeatable)",
    )
    r.add_argument(
        "--case",
        type=Path,
        action="append",
        default=[],
        help="also add the sightings a case holds: its hunts' and those added to it "
        "(OUT or OUT/case.duckdb; repeatable)",
    )
    r.add_argument("--format", choices=("text", "html"), default="text")
    r.add_argument(
        "--lookup",
        choices=("none", "packaged"),
        default="packaged",
        help="IP lookups today: the packaged geoip2fast data, or none",
    )
    r.add_argument(
        "--mmdb",
        type=Path,
        action="append",
        default=[],
        help="your own MaxMind .mmdb file(s) for IP lookups (repeatable)",
    )
    r.add_argument("--out", type=Path, help="write to this file instead of stdout")

    e = isub.add_parser("export", help="export IOC/intel packs as STIX 2.1 or MISP")
    e.add_argument("--format", choices=INTEL_FORMATS, required=True)
    e.add_argument("--ioc", type=Path, action="append", default=[], help="IOC pack file")
    e.add_argument(
        "--intel", action="append", default=[], help="intel pack name or file (STIX only)"
    )
    e.add_argument("--builtin", action="store_true", help="include the shipped IOC packs")

    i = isub.add_parser("import", help="a STIX bundle or MISP event as an IOC pack (YAML)")
    i.add_argument("file", type=Path)
    i.add_argument("--name", help="pack name (default: from the file)")
    i.add_argument("--out", type=Path, help="write the pack here (default stdout)")
    return p


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")


def _open_case(path: Path, *, create: bool) -> CaseStore:
    """A case store from OUT (a hunt's output folder) or the case file itself."""
    from duqhunt.store import CaseStore

    case = path / "case.duckdb" if path.is_dir() else path
    if not create and not case.is_file():
        raise UsageError(f"--case {path}: no case store there (expected {case})")
    return CaseStore(case)


def run_intel(args: argparse.Namespace) -> int:
    """Run an `intel` subcommand. Results to stdout (or --out); returns the exit code."""
    cmd = args.intel_command
    if cmd == "add-sightings":
        from duqhunt.intel.sightings import add_sightings, load_sightings, store_sightings

        if args.case is not None:
            new = load_sightings(args.file)
            with _open_case(args.case, create=True) as store:
                added = store_sightings(store, new, origin=str(args.file))
                total = len(store.stored_sightings())
            sys.stdout.write(
                f"{store.case_path}: {added} new of {len(new)} sightings, {total} in the case\n"
            )
            return 0
        pack = add_sightings(args.file, args.pack)
        sys.stdout.write(f"{args.pack}: {len(pack.sightings)} sightings\n")
        return 0
    if cmd == "report":
        from duqhunt.intel.geoip import GeoLookup, MmdbGeoIP, PackagedGeoIP
        from duqhunt.intel.report import intel_report, render_intel_html, render_intel_text
        from duqhunt.intel.sightings import load_sightings

        lookup: GeoLookup | None = None
        if args.mmdb:
            lookup = MmdbGeoIP(*args.mmdb)
        elif args.lookup == "packaged":
            lookup = PackagedGeoIP()
        from duqhunt.intel.sightings import case_sightings

        extra = [s for f in args.sightings for s in load_sightings(f)]
        for case in args.case:
            with _open_case(case, create=False) as store:
                extra.extend(case_sightings(store))
        report = intel_report(args.pack, lookup=lookup, sightings=extra)
        text = render_intel_html(report) if args.format == "html" else render_intel_text(report)
        _write(text, args.out)
        return 0
    if cmd == "export":
        packs: list[IocPack] = [load_ioc_pack(p) for p in args.ioc]
        if args.builtin:
            packs = builtin_ioc_packs() + packs
        if args.format == "stix":
            from duqhunt.intel.pack import resolve_intel_pack
            from duqhunt.intel.stix import to_stix_bundle

            data = to_stix_bundle(None, [*packs, *(resolve_intel_pack(x) for x in args.intel)])
        else:
            from duqhunt.intel.misp import to_misp_event

            data = to_misp_event(None, packs)
        _write(json.dumps(data, indent=2, ensure_ascii=False) + "\n", None)
        return 0
    if cmd == "import":
        import yaml

        from duqhunt.errors import InputError
        from duqhunt.intel.misp import misp_to_pack
        from duqhunt.intel.stix import stix_to_pack

        try:
            raw = json.loads(args.file.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(str(args.file), f"cannot read JSON: {exc}") from None
        is_stix = isinstance(raw, dict) and raw.get("type") == "bundle"
        ioc_pack = (
            stix_to_pack(raw, name=args.name) if is_stix else misp_to_pack(raw, name=args.name)
        )
        text = yaml.safe_dump(ioc_pack.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        _write(text, args.out)
        return 0
    raise UsageError(f"unknown intel command {cmd!r}")
