"""pcap conversion benchmark: duqhunt's tshark-based conversion beside tshark's own raw rate.

    .venv/bin/python benchmarks/pcap_bench.py              # builds a >= 1 GB capture once
    .venv/bin/python benchmarks/pcap_bench.py --mb 200     # a quick check

The capture is built (once, cached under benchmarks/work/) by appending the real captures in
tests/data/pcap again and again with their timestamps shifted, so it holds real SMB, DCE/RPC
and HTTP traffic in the proportions of those captures. Steps, each in a fresh process:

    raw      tshark -n -r big.pcap -T fields -e frame.number > /dev/null: the dissector's rate
    convert  duqhunt.sources.net.pcap.PcapConverter(big.pcap).convert(): the tshark pass, the
             DuckDB conn aggregation, the first payload of each TCP direction (editcap and
             tshark over those frames alone) and the application-layer rows, as Zeek logs

Each step runs --repeat times (raw and convert alternated, medians kept); wall and CPU
seconds (the process and its children) are both reported, since on a shared machine the
wall time carries the other jobs' load.

Writes benchmarks/results-pcap.md and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "work"
PCAPS = ROOT / "tests" / "data" / "pcap"
RESULTS = HERE / "results-pcap.md"


def build_capture(target_mb: int) -> Path:
    out = WORK / f"pcap-{target_mb}mb-v2" / "big.pcap"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    sources = []
    for p in sorted(PCAPS.glob("*.*cap")):
        data = p.read_bytes()
        magic, _vmaj, _vmin, _tz, _sig, _snap, linktype = struct.unpack("<IHHiIII", data[:24])
        if magic != 0xA1B2C3D4 or linktype != 1:
            continue  # little-endian microsecond Ethernet captures only
        sources.append(data)
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    written = 0
    shift = 0
    rnd = 0
    tmp = out.with_suffix(".partial")
    with open(tmp, "wb") as fh:
        fh.write(header)
        while written < target_mb * 1_000_000:
            for data in sources:
                pos = 24
                while pos + 16 <= len(data):
                    sec, usec, incl, orig = struct.unpack("<IIII", data[pos : pos + 16])
                    body = data[pos + 16 : pos + 16 + incl]
                    if len(body) >= 34 and body[12:14] == b"\x08\x00":
                        # a new pair of addresses each round (third octets shifted), so the
                        # copies are new conversations, not TCP retransmissions of the first
                        b = bytearray(body)
                        b[28] = (b[28] + rnd) % 256
                        b[32] = (b[32] + rnd) % 256
                        body = bytes(b)
                    fh.write(struct.pack("<IIII", sec + shift, usec, incl, orig))
                    fh.write(body)
                    written += 16 + incl
                    pos += 16 + incl
            shift += 3600  # each round an hour later
            rnd += 1
    tmp.rename(out)
    return out


def _child(step: str, capture: str) -> dict[str, float]:
    t0 = time.perf_counter()
    out: dict[str, float] = {}
    if step == "raw":
        tshark = shutil.which("tshark") or "tshark"
        res = subprocess.run(
            [tshark, "-n", "-r", capture, "-T", "fields", "-e", "frame.number"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        out["packets"] = float(res.stdout.count(b"\n"))
    else:
        sys.path.insert(0, os.environ.get("PCAP_BENCH_SRC") or str(ROOT / "src"))
        from duqhunt.sources.net.pcap import PcapConverter, find_tshark

        work = WORK / "pcap-convert-out"
        shutil.rmtree(work, ignore_errors=True)
        r = PcapConverter(Path(capture), find_tshark(), work).convert()
        out["packets"] = float(r.packets)
        for name, path in r.logs.items():
            with open(path, "rb") as fh:
                out[f"rows_{name}"] = float(sum(1 for _ in fh) - 9)
        shutil.rmtree(work, ignore_errors=True)
    out["seconds"] = time.perf_counter() - t0
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    # CPU seconds of this process and its tshark/editcap children: on a shared, loaded machine
    # the wall time measures the load as much as the work
    out["cpu_seconds"] = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out["peak_rss_mb"] = max(self_rss, child_rss)
    out["python_rss_mb"] = self_rss
    out["tshark_rss_mb"] = child_rss
    return out


def _load(avg: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.1f}" for x in avg)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mb", type=int, default=1024, help="capture size to build (MB)")
    ap.add_argument(
        "--src",
        help="measure the duqhunt source tree here instead of this checkout's src/ "
        "(e.g. an older commit's, for a before/after in the same run)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs of each step (median kept)")
    ap.add_argument("--child", nargs=2, metavar=("STEP", "CAPTURE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return 0
    cap = build_capture(args.mb)
    size_mb = cap.stat().st_size / 1e6
    if args.src:
        os.environ["PCAP_BENCH_SRC"] = str(Path(args.src).resolve())
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, float]]] = {"raw": [], "convert": []}
    for _ in range(args.repeat):
        for step in ("raw", "convert"):  # alternated, so both see the same load
            proc = subprocess.run(
                [sys.executable, __file__, "--child", step, str(cap)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[step].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    load_after = os.getloadavg()
    results = {
        step: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for step, rs in runs.items()
    }
    lines = [
        "## pcap suite: capture conversion through tshark",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, 'benchmarks/pcap_bench.py', *sys.argv[1:]])}`",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        f"- input: {cap.relative_to(ROOT)} ({size_mb:,.0f} MB, built from tests/data/pcap, "
        f"{results['raw']['packets']:,.0f} packets)",
        f"- load average (1, 5, 15 min) before {_load(load_before)}, after {_load(load_after)} "
        f"on {os.cpu_count()} CPUs: the machine was shared with other jobs, so the wall times "
        "hold their load; CPU seconds (process and children) are the steadier figure",
        f"- {args.repeat} runs of each step, raw and convert alternated; medians",
        "",
        "| step | what | wall s | CPU s | packets/s (wall) | MB/s (wall) | peak RSS MB (python / tshark) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    what = {
        "raw": "tshark -T fields -e frame.number (the dissector's own rate)",
        "convert": "PcapConverter.convert(): one tshark pass, conn aggregation, first payloads "
        "(editcap + tshark on those frames), app rows",
    }
    for step, r in results.items():
        secs = r["seconds"]
        lines.append(
            f"| {step} | {what[step]} | {secs:.1f} | {r['cpu_seconds']:.1f} | "
            f"{r['packets'] / secs:,.0f} | {size_mb / secs:,.1f} | "
            f"{r['python_rss_mb']:,.0f} / {r['tshark_rss_mb']:,.0f} |"
        )
    ratio = results["convert"]["seconds"] / results["raw"]["seconds"]
    cpu_ratio = results["convert"]["cpu_seconds"] / results["raw"]["cpu_seconds"]
    per_run = ", ".join(
        f"{c['seconds'] / r['seconds']:.2f}"
        for r, c in zip(runs["raw"], runs["convert"], strict=True)
    )
    rows = {k[5:]: int(v) for k, v in results["convert"].items() if k.startswith("rows_")}
    lines += [
        "",
        f"- conversion / raw tshark: **{ratio:.2f}** by wall time (each run: {per_run}), "
        f"**{cpu_ratio:.2f}** by CPU time (the target is at most 2.5)",
        f"- rows written: {', '.join(f'{k} {v:,}' for k, v in sorted(rows.items()))}",
        "",
    ]
    text = "\n".join(lines)
    old = RESULTS.read_text() if RESULTS.exists() else ""
    begin, end = "<!-- zeek-parity:begin -->", "<!-- zeek-parity:end -->"
    if begin in old and end in old:  # keep benchmarks/zeek_parity.py's section
        text += "\n" + old[old.index(begin) : old.index(end) + len(end)] + "\n"
    RESULTS.write_text(text)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
