"""C&C ranking on the simulator: for each beacon profile and scenario, is the planted C&C in
campaign.c2 (and first), how many ground-truth beacon pairs rank in the top 10 of
campaign.beacons, and how many high/critical findings a clean run of the same enterprise has.

Hunts run WITHOUT the simulated enterprise's allow-list (known-good.yaml): the benign periodic
services must be ranked down by evidence, not by an inventory.

    PYTHONPATH=src python benchmarks/c2_ranking.py --simulate-only [--quick]
    PYTHONPATH=src python benchmarks/c2_ranking.py [--quick] [--iocs] [--out FILE.json]

Simulations are kept under --sims (default benchmarks/work/c2rank) so another checkout can
hunt the same logs (PYTHONPATH=<other>/src) for a before/after comparison. Without --iocs no
IOC pack is loaded: the C&C must be found by behaviour, as with a new C&C.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# (profile, hosts, days, jitter, seed)
SCENARIOS: list[tuple[str, int, float, float, int]] = [
    ("http", 80, 1.0, 0.2, 3),
    ("http", 300, 2.0, 0.4, 7),
    ("http", 800, 1.0, 0.4, 11),
    ("low_slow", 300, 5.0, 0.4, 5),
    ("low_slow", 80, 5.0, 0.2, 9),
    ("custom443", 300, 2.0, 0.4, 7),
    ("custom443", 80, 1.0, 0.2, 13),
    ("tls_nosni", 300, 2.0, 0.4, 17),
    ("tls_nosni", 800, 1.0, 0.2, 19),
    ("proxy", 300, 2.0, 0.4, 23),
    ("proxy", 80, 1.0, 0.2, 29),
]
QUICK = [s for i, s in enumerate(SCENARIOS) if i in (1, 3, 5, 7, 9)]
CLEAN = [(80, 1.0, 3), (300, 2.0, 7), (800, 1.0, 11)]


def _name(sc: tuple[Any, ...]) -> str:
    return "-".join(str(x) for x in sc)


def simulate_all(
    sims: Path, scenarios: list[tuple[Any, ...]], clean: list[tuple[Any, ...]]
) -> None:
    from duqhunt.simulate import SimConfig, simulate

    for profile, hosts, days, jitter, seed in scenarios:
        root = sims / _name((profile, hosts, days, jitter, seed))
        if not (root / "ground_truth.json").exists():
            cfg = SimConfig(
                hosts=hosts,
                days=days,
                beacon_jitter=jitter,
                benign_periodic=True,
                beacon_profile=profile,
            )
            simulate(root / "zeek", seed=seed, config=cfg, meta_dir=root)
    for hosts, days, seed in clean:
        root = sims / _name(("clean", hosts, days, seed))
        if not (root / "ground_truth.json").exists():
            cfg = SimConfig(hosts=hosts, days=days, intrusion=False, benign_periodic=True)
            simulate(root / "zeek", seed=seed, config=cfg, meta_dir=root)


def _hunt(root: Path, iocs: bool) -> tuple[Any, dict[str, Any]]:
    from duqhunt.hunt import HuntOptions, hunt

    truth = json.loads((root / "ground_truth.json").read_text())
    out = Path(tempfile.mkdtemp(prefix="c2rank-out-"))
    try:
        doc = hunt(HuntOptions(inputs=(root / "zeek",), out=out, threads=2, builtin_iocs=iocs))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return doc, truth


def run_scenario(sims: Path, sc: tuple[Any, ...], iocs: bool) -> dict[str, Any]:
    profile, hosts, days, jitter, seed = sc
    doc, truth = _hunt(sims / _name(sc), iocs)
    c2 = [c.ip for c in doc.campaign.c2]
    planted = [c["ip"] for c in truth["c2"]]
    ranked = [(b.src, b.dst) for b in doc.campaign.beacons]
    pairs = [(p["src"], p["dst"]) for p in truth["beacon_pairs"]]
    return {
        "profile": profile,
        "hosts": hosts,
        "days": days,
        "jitter": jitter,
        "seed": seed,
        "c2_found": all(ip in c2 for ip in planted),
        "c2_first": bool(c2) and c2[0] in planted,
        "c2_ranks": [c2.index(ip) + 1 if ip in c2 else None for ip in planted],
        "c2_entries": len(c2),
        "pairs_top10": sum(1 for p in pairs if p in ranked[:10]),
        "pairs": len(pairs),
        "pair_ranks": [ranked.index(p) + 1 if p in ranked else None for p in pairs],
        "high_critical": sum(1 for f in doc.findings if f.severity in ("high", "critical")),
    }


def run_clean(sims: Path, cl: tuple[Any, ...], iocs: bool) -> dict[str, Any]:
    hosts, days, seed = cl
    doc, _ = _hunt(sims / _name(("clean", *cl)), iocs)
    high = [f for f in doc.findings if f.severity in ("high", "critical")]
    return {
        "hosts": hosts,
        "days": days,
        "seed": seed,
        "high_critical": len(high),
        "by_detector": sorted({f.detector for f in high}),
        "c2_entries": len(doc.campaign.c2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", help="comma-separated profiles")
    ap.add_argument("--sims", type=Path, default=Path("benchmarks/work/c2rank"))
    ap.add_argument("--simulate-only", action="store_true")
    ap.add_argument("--iocs", action="store_true", help="load the built-in IOC packs too")
    args = ap.parse_args()
    scenarios = QUICK if args.quick else SCENARIOS
    if args.only:
        keep = set(args.only.split(","))
        scenarios = [s for s in scenarios if s[0] in keep]
    clean = [] if args.only else (CLEAN[:1] if args.quick else CLEAN)
    args.sims.mkdir(parents=True, exist_ok=True)
    if args.simulate_only:
        simulate_all(args.sims, scenarios, clean)
        return 0
    results: dict[str, Any] = {"iocs": args.iocs, "scenarios": [], "clean": []}
    for sc in scenarios:
        r = run_scenario(args.sims, sc, args.iocs)
        results["scenarios"].append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    for cl in clean:
        r = run_clean(args.sims, cl, args.iocs)
        results["clean"].append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    sc_rows = results["scenarios"]
    if sc_rows:
        print(
            f"C&C in campaign.c2: {sum(r['c2_found'] for r in sc_rows)}/{len(sc_rows)}; "
            f"a planted C&C first: {sum(r['c2_first'] for r in sc_rows)}/{len(sc_rows)}; "
            f"pairs in top 10: {sum(r['pairs_top10'] for r in sc_rows)}/"
            f"{sum(r['pairs'] for r in sc_rows)}"
        )
    for r in results["clean"]:
        print(f"clean {r['hosts']} hosts {r['days']} d: {r['high_critical']} high/critical")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
