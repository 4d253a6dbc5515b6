"""pcap conversion benchmark: duqhunt's tshark-based conversion beside tshark's own raw rate.

    .venv/bin/python benchmarks/pcap_bench.py              # builds a >= 1 GB capture once
    .venv/bin/python benchmarks/pcap_bench.py --mb 200     # a quick check

The capture is built (once, cached under benchmarks/work/) by appending the real captures in
tests/data/pcap again and again with their timestamps shifted, so it holds real SMB, DCE/RPC
and HTTP traffic in the proportions of those captures. Steps, each in a fresh process:

    raw      tshark -n -r big.pcap -T fields -e frame.number > /dev/null: the dissector's rate
    convert  duqhunt.sources.net.pcap.PcapConverter(big.pcap).convert(): both tshark passes,
             the DuckDB conn aggregation and the application-layer rows, written as Zeek logs

Writes benchmarks/results-pcap.md and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
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
        sys.path.insert(0, str(ROOT / "src"))
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
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out["peak_rss_mb"] = max(self_rss, child_rss)
    out["python_rss_mb"] = self_rss
    out["tshark_rss_mb"] = child_rss
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mb", type=int, default=1024, help="capture size to build (MB)")
    ap.add_argument("--child", nargs=2, metavar=("STEP", "CAPTURE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return 0
    cap = build_capture(args.mb)
    size_mb = cap.stat().st_size / 1e6
    results = {}
    for step in ("raw", "convert"):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", step, str(cap)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[step] = json.loads(proc.stdout.strip().splitlines()[-1])
    lines = [
        "## pcap suite: capture conversion through tshark",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, 'benchmarks/pcap_bench.py', *sys.argv[1:]])}`",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        f"- input: {cap.relative_to(ROOT)} ({size_mb:,.0f} MB, built from tests/data/pcap, "
        f"{results['raw']['packets']:,.0f} packets)",
        "",
        "| step | what | seconds | packets/s | MB/s | peak RSS MB (python / tshark) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    what = {
        "raw": "tshark -T fields -e frame.number (the dissector's own rate)",
        "convert": "PcapConverter.convert(): 2 tshark passes + conn aggregation + app rows",
    }
    for step, r in results.items():
        secs = r["seconds"]
        lines.append(
            f"| {step} | {what[step]} | {secs:.1f} | {r['packets'] / secs:,.0f} | "
            f"{size_mb / secs:,.1f} | {r['python_rss_mb']:,.0f} / {r['tshark_rss_mb']:,.0f} |"
        )
    ratio = results["convert"]["seconds"] / results["raw"]["seconds"]
    rows = {k[5:]: int(v) for k, v in results["convert"].items() if k.startswith("rows_")}
    lines += [
        "",
        f"- conversion / raw tshark = {ratio:.2f} (two dissection passes are the floor: ~2x)",
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
