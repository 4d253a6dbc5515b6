"""Sample similarity on real benign PE files whose family is known: duqhunt beside TLSH alone
and ssdeep alone, and the time to cluster 1,000 files.

    .venv/bin/python benchmarks/similarity_bench.py      # writes benchmarks/results-similarity.md

Data: Windows wheels (win_amd64, CPython 3.11) of Python projects with native modules, two
releases each, downloaded from PyPI by pip into benchmarks/work/simwheels/ (git-ignored; nothing
is committed, nothing is executed). Every .pyd/.dll in a wheel is a module identified by its
project and its path inside the wheel; a module present in both releases has a true partner.

Accuracy: the share of modules (with a partner) whose most similar other file is that partner,
for duqhunt's score, for TLSH alone (smallest distance) and for ssdeep alone (highest score; a
file whose best ssdeep score is 0 has no neighbour and counts as a miss). All three are computed
from the same run's features; duqhunt's code and strings layers alone are listed too, so
the table shows what carries the score (module and export names are in the strings, and they
survive a recompilation; for Cython modules whose generator changed between releases the code
layer drifts). Speed: `analyse()` over the first 1,000 files of the set (sorted
by path), wall time and the peak RSS of this process and its workers.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK, machine

PAIRS = [
    ("pywin32", "306", "308"),
    ("pycryptodome", "3.19.0", "3.20.0"),
    ("numpy", "1.26.3", "1.26.4"),
    ("lxml", "5.1.0", "5.2.1"),
    ("pillow", "10.2.0", "10.3.0"),
    ("regex", "2023.12.25", "2024.4.16"),
    ("ujson", "5.8.0", "5.9.0"),
    ("brotli", "1.0.9", "1.1.0"),
    ("cffi", "1.15.1", "1.16.0"),
    ("charset-normalizer", "3.3.1", "3.3.2"),
    ("aiohttp", "3.9.1", "3.9.3"),
    ("multidict", "6.0.4", "6.0.5"),
    ("yarl", "1.9.3", "1.9.4"),
    ("frozenlist", "1.4.0", "1.4.1"),
    ("kiwisolver", "1.4.4", "1.4.5"),
    ("markupsafe", "2.1.3", "2.1.5"),
    ("msgpack", "1.0.7", "1.0.8"),
    ("pyyaml", "6.0.1", "6.0.2"),
    ("psutil", "5.9.6", "5.9.8"),
    ("zstandard", "0.21.0", "0.22.0"),
    ("pyzmq", "25.1.1", "25.1.2"),
    ("greenlet", "3.0.1", "3.0.3"),
    ("pandas", "2.1.4", "2.2.0"),
    ("scipy", "1.11.4", "1.12.0"),
]
#: more releases of projects with many small modules, for the 1,000-file speed run only
SPEED_EXTRA = [
    ("pywin32", "305", "307"),
    ("pycryptodome", "3.18.0", "3.21.0"),
    ("pycryptodomex", "3.19.0", "3.20.0"),
]
WHEELS = WORK / "simwheels"
FILES = WORK / "simfiles"
SPEED_FILES = 1000


def _wanted(pairs: list[tuple[str, str, str]]) -> set[tuple[str, str]]:
    return {(n.lower().replace("-", "_"), v) for n, *vs in pairs for v in vs}


def _download() -> None:
    WHEELS.mkdir(parents=True, exist_ok=True)
    for name, *versions in PAIRS + SPEED_EXTRA:
        for v in versions:
            norm = name.lower().replace("-", "_")
            if any(p.name.lower().startswith(f"{norm}-{v}-") for p in WHEELS.glob("*.whl")):
                continue
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--only-binary=:all:",
                    "--platform",
                    "win_amd64",
                    "--python-version",
                    "3.11",
                    "--no-deps",
                    f"{name}=={v}",
                    "-d",
                    str(WHEELS),
                ],
                check=False,
                capture_output=True,
            )


def _extract(pairs: list[tuple[str, str, str]]) -> dict[Path, tuple[str, str, str]]:
    """path -> (project, release, module path inside the wheel), for the given releases."""
    out: dict[Path, tuple[str, str, str]] = {}
    wanted = _wanted(pairs)
    for whl in sorted(WHEELS.glob("*.whl")):
        project, release = whl.name.split("-")[:2]
        if (project.lower().replace("-", "_"), release) not in wanted:
            continue
        with zipfile.ZipFile(whl) as z:
            for info in z.infolist():
                low = info.filename.lower()
                if not low.endswith((".pyd", ".dll")) or info.file_size < 1024:
                    continue
                dst = FILES / f"{project}-{release}" / info.filename
                if not dst.exists():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    dst.write_bytes(z.read(info))
                out[dst] = (project.lower(), release, info.filename.lower())
    return out


def _accuracy(meta: dict[Path, tuple[str, str, str]]) -> dict[str, tuple[int, int]]:
    """Right nearest neighbours for duqhunt's score and for each layer alone (TLSH alone and
    ssdeep alone are the two tools analysts compare one pair at a time)."""
    from duqhunt.similarity import analyse

    res = analyse(sorted(meta), builtin_refs=False)
    keys = [meta[Path(f.path)] for f in res.files]
    by_module: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (proj, _rel, mod) in enumerate(keys):
        by_module[(proj, mod)].append(i)
    partner: dict[int, int] = {}
    for members in by_module.values():
        if len(members) == 2:
            partner[members[0]], partner[members[1]] = members[1], members[0]
    names = {
        "score": "duqhunt (all layers)",
        "tlsh": "TLSH alone",
        "ssdeep": "ssdeep alone",
        "code": "duqhunt code layer alone",
        "strings": "duqhunt strings layer alone",
    }
    out: dict[str, tuple[int, int]] = {}
    for layer, label in names.items():
        hit = 0
        for i, j in partner.items():
            near = res.comparison.nearest(i, layer)
            hit += bool(near and near[0] == j)
        out[label] = (hit, len(partner))
    return out


def _speed(meta: dict[Path, tuple[str, str, str]]) -> dict[str, float]:
    """The first 1,000 files by path among those under 2 MB (about 100 MB in all)."""
    from duqhunt.similarity import analyse

    paths = [p for p in sorted(meta) if p.stat().st_size < 2 << 20][:SPEED_FILES]
    size = sum(p.stat().st_size for p in paths)
    t0 = time.perf_counter()
    res = analyse(paths, builtin_refs=False)
    wall = time.perf_counter() - t0
    rss = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    return {
        "files": len(paths),
        "mb": size / 1e6,
        "seconds": wall,
        "peak_rss_mb": rss,
        "clusters": len(res.clusters),
    }


def main() -> int:
    _download()
    load_before = os.getloadavg()[0]
    meta = _extract(PAIRS)
    acc = _accuracy(meta)
    speed = _speed(_extract(PAIRS + SPEED_EXTRA))
    projects = sorted({m[0] for m in meta.values()})
    lines = [
        "# Sample similarity: duqhunt beside TLSH alone and ssdeep alone",
        "",
        "Generated by `benchmarks/similarity_bench.py`; do not edit by hand.",
        "",
        "Command: `.venv/bin/python benchmarks/similarity_bench.py`",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in machine().items()),
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Data: {len(meta)} PE files (.pyd/.dll) from the win_amd64 wheels of {len(projects)} "
        f"projects, two releases each ({', '.join(projects)}).",
        "",
        "## Accuracy: is a module's most similar file its other release?",
        "",
        "| method | right | modules with a partner | accuracy |",
        "|---|---:|---:|---:|",
    ]
    for k, (hit, n) in acc.items():
        lines.append(f"| {k} | {hit} | {n} | {100 * hit / max(n, 1):.1f} % |")
    lines += [
        "",
        "## Speed",
        "",
        f"`analyse()` over {speed['files']:.0f} files under 2 MB ({speed['mb']:.0f} MB; the "
        "accuracy set plus more releases of pywin32 and pycryptodome(x)): "
        f"{speed['seconds']:.1f} s wall, peak RSS {speed['peak_rss_mb']:.0f} MB "
        f"(largest of this process and its workers), {speed['clusters']} families.",
        "",
        f"Load average (1 min) when the run began: {load_before:.1f}, when it ended: "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; a figure taken beside other work "
        "is slower than on a quiet machine.",
    ]
    md = "\n".join(lines) + "\n"
    (Path(__file__).resolve().parent / "results-similarity.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
