"""The network hunt on real public Zeek logs and captures: what it finds, misses and confuses.

    PYTHONPATH=src .venv/bin/python benchmarks/realnet.py \\
        --otrf-git-dir PATH/Security-Datasets.git [--zeek-git-dir PATH/zeek.git] [--only NAME]

The data are third parties' (MIT: OTRF/Security-Datasets; BSD-3-Clause: zeek/zeek) and are
read from git directories of those repositories (``git show``), extracted under
benchmarks/work/realnet (gitignored) and hunted with no IOC pack and no allow-list: what is
found is found by behaviour. Each data set has what its authors say happened in it (the
``truth`` line), so a miss is visible beside what was found. Results are printed as a
Markdown table and written as JSON to benchmarks/work/realnet/results.json; the figures
quoted in benchmarks/results-realnet.md come from that output.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "realnet"

OTRF = "datasets/compound"


@dataclass(frozen=True)
class DataSet:
    name: str
    repo: str  # "otrf" or "zeek"
    paths: tuple[str, ...]  # files (or zips) in the repository
    internal: tuple[str, ...]
    truth: str


DATASETS = (
    DataSet(
        "apt29-day1-individual",
        "otrf",
        (f"{OTRF}/apt29/day1/zeek/individual_zeek_logs/",),
        ("10.0.0.0/8",),
        "C&C 192.168.0.5 (reverse shell :1234 from 10.0.1.4, later HTTPS :443); PsExec-style "
        "copy of python.exe from 10.0.1.4 to NASHUA 10.0.0.4... over SMB (step 8)",
    ),
    DataSet(
        "apt29-day1-combined",
        "otrf",
        (f"{OTRF}/apt29/day1/zeek/combined_zeek.log",),
        ("10.0.0.0/8",),
        "the same day as one RockNSM export of both sensors (@stream per line)",
    ),
    DataSet(
        "apt29-day2",
        "otrf",
        tuple(
            f"{OTRF}/apt29/day2/zeek/{h}-zeek_logs.zip"
            for h in ("NEWYORK", "SCRANTON", "UTICA-A", "UTICA-C", "UTICA-D", "UTICA-ONE-DRIVE")
        ),
        ("10.0.0.0/8",),
        "C&C 192.168.0.4 (HTTPS :443 from 10.0.1.5, a check-in every few seconds); lateral "
        "movement over WinRM (5985) and WMI, not SMB",
    ),
    *(
        DataSet(
            f"lsass-{i:02d}",
            "otrf",
            (f"{OTRF}/LSASS_campaign_{i:02d}/{name}_zeek_logs.zip",),
            ("192.168.0.0/16",),
            f"Meterpreter C&C {c2} (long sessions from one victim); no lateral movement",
        )
        for i, name, c2 in (
            (1, "metasploit_logonpasswords_lsass_memory_dump", "10.0.5.13"),
            (2, "metasploit_procdump_lsass_memory_dump", "10.0.5.13"),
            (3, "metasploit_comsvcs_lsass_memory_dump", "10.0.5.13"),
            (4, "metasploit_out-minidump_lsass_memory_dump", "10.0.5.13"),
            (5, "metasploit_sharpdump_lsass_memory_dump", "10.0.5.14"),
            (6, "metasploit_outflank-dumpert_lsass_memory_dump", "10.0.5.14"),
            (7, "metasploit_nanodump_lsass_memory_dump", "10.0.5.14"),
        )
    ),
)

ZEEK_TRACES = (
    # benign protocol traces of Zeek's test suite: whatever duqhunt reports here is a false
    # positive (the traces hold no intrusion)
    "testing/btest/Traces/smb/smb2.pcap",
    "testing/btest/Traces/smb/smb1.pcap",
    "testing/btest/Traces/smb/smb2readwrite.pcap",
    "testing/btest/Traces/smb/smb2_100_small_files.pcap",
    "testing/btest/Traces/smb/smb3.pcap",
    "testing/btest/Traces/smb/dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation.cap",
    "testing/btest/Traces/krb/smb2_krb.pcap",
    "testing/btest/Traces/krb/smb_gssapi.pcap",
    "testing/btest/Traces/dce-rpc/mapi.pcap",
    "testing/btest/Traces/dce-rpc/cs_window7-join_stream092.pcap",
    "testing/btest/Traces/dce-rpc/dce_rpc_ntlm.pcapng",
    "testing/btest/Traces/dce-rpc/kerberos445_auth.pcapng",
    "testing/btest/Traces/http/proxy.pcap",
    "testing/btest/Traces/http/connect-with-header.pcap",
    "testing/btest/Traces/http/multipart.pcap",
    "testing/btest/Traces/http/post.pcap",
    "testing/btest/Traces/http/http-lower-case-nonstandard-port.pcap",
)


def _git_files(git_dir: Path, path: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(git_dir), "ls-tree", "-r", "--name-only", "HEAD", path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line for line in out.splitlines() if line]


def _git_bytes(git_dir: Path, path: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(git_dir), "show", f"HEAD:{path}"], check=True, capture_output=True
    ).stdout


def extract(ds: DataSet, git_dir: Path) -> Path:
    dest = WORK / ds.name
    if dest.exists() and any(dest.iterdir()):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    for path in ds.paths:
        for f in _git_files(git_dir, path):
            data = _git_bytes(git_dir, f)
            if f.endswith(".zip"):
                sub = dest / Path(f).stem
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    for m in z.infolist():
                        if m.is_dir() or not m.filename.endswith(".log"):
                            continue
                        target = sub / Path(m.filename).name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(z.read(m))
            else:
                (dest / Path(f).name).write_bytes(data)
    return dest


def extract_trace(path: str, git_dir: Path) -> Path:
    dest = WORK / "zeek-traces" / Path(path).name
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(_git_bytes(git_dir, path))
    return dest


def summarise(name: str, doc: Any, truth: str) -> dict[str, Any]:
    by = Counter((f.detector, f.severity) for f in doc.findings)
    camp = doc.campaign
    return {
        "name": name,
        "truth": truth,
        "inputs": len(doc.inputs),
        "not_analysed": [f"{n.path}: {n.reason}" for n in doc.not_analysed][:10],
        "warnings": list(doc.warnings)[:10],
        "findings": len(doc.findings),
        "by_detector": {f"{d}/{s}": n for (d, s), n in sorted(by.items())},
        "titles": [
            f"{f.severity} {f.detector}: {f.title}"
            for f in sorted(doc.findings, key=lambda f: (f.severity, f.detector, f.title))
            if f.detector.startswith("DQ-NET")
        ][:40],
        "c2": [c.ip for c in camp.c2] if camp else [],
        "beacons_top5": [
            f"{b.src} -> {b.dst} ({b.kind}) score {b.score} every {b.interval_s} s x{b.count}: "
            + "; ".join(b.why)
            for b in (camp.beacons[:5] if camp else [])
        ],
        "lateral_moves": [
            f"{m.get('src')} -> {m.get('dst')} {m.get('method')} {m.get('share')} {m.get('file')} "
            f"account={m.get('account')} tool={m.get('admin_tool')}"
            for m in (camp.lateral_moves if camp else [])
        ][:20],
        "hosts": [f"{h.ip} {'/'.join(h.roles)}" for h in (camp.hosts if camp else [])][:20],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--otrf-git-dir", type=Path, required=True)
    ap.add_argument("--zeek-git-dir", type=Path)
    ap.add_argument("--only", help="run only data sets whose name contains this")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    from duqhunt.hunt import HuntOptions, hunt

    results = []
    todo: list[tuple[str, Path, tuple[str, ...], str]] = []
    for ds in DATASETS:
        if args.only and args.only not in ds.name:
            continue
        todo.append((ds.name, extract(ds, args.otrf_git_dir), ds.internal, ds.truth))
    if args.zeek_git_dir:
        for path in ZEEK_TRACES:
            name = "zeek:" + path.rsplit("/", 2)[-2] + "/" + Path(path).name
            if args.only and args.only not in name:
                continue
            trace = extract_trace(path, args.zeek_git_dir)
            todo.append((name, trace, ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"), "benign"))
    for name, data, internal, truth in todo:
        out = WORK / "out" / name.replace(":", "_").replace("/", "_")
        shutil.rmtree(out, ignore_errors=True)  # a case kept from an earlier run skips inputs
        doc = hunt(
            HuntOptions(
                inputs=(data,),
                out=out,
                internal=internal,
                builtin_iocs=False,
                builtin_allowlists=False,
                threads=1,
            )
        )
        results.append(summarise(name, doc, truth))
        print(json.dumps(results[-1], indent=1), flush=True)
    (WORK / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
