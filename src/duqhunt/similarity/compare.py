"""Which PE files are one family: pair scores, nearest neighbours, clusters and their reasons.

Layers, each reported in a pair's ``basis``:

* code: weighted Jaccard similarity of the two files' sets of normalised function hashes
  (features.py);
* strings: the same over their printable strings (ASCII and UTF-16, 6+ characters): module
  and export names, device names, paths, messages, which survive recompilation;
* tlsh: 1 - distance / 200 (0 beyond), whole file; ssdeep: the ssdeep score / 100;
* imports and Rich header: the same imphash (with at least 5 imports) and the same Rich-header
  hash (same compiler and linker build, same object mix) are supporting evidence.

Weights: an item (function hash or string) found in many files of the run says little about
family (compiler runtime, statically linked libraries, "Microsoft Corporation"), so each item
weighs log(1 + N / df) for N files and df files holding it, and items in more than
max(``COMMON_MIN``, ``COMMON_SHARE`` x N) files are dropped altogether.

score = 0.4 x code + 0.4 x strings + 0.2 x tlsh over the layers both files have (a file that
cannot be compared by code is scored on the rest, re-weighted), raised to the ssdeep score when
that is higher, + 0.05 for the same imphash and + 0.03 for the same Rich header, capped at 1.

Candidate pairs without comparing every pair's code: an inverted index from each kept item to
the files holding it gives every pair that shares one and the weight of their intersection
(the document-frequency cap keeps posting lists short; at millions of files a MinHash/LSH
index would replace it). TLSH and ssdeep are compared in C (ssdeep only between compatible
block sizes), all pairs up to ``MAX_ALL_PAIRS`` files.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from duqhunt.similarity.features import FileFeatures, Function
from duqhunt.similarity.fuzzy import ssdeep_compare, tlsh_similarity

CLUSTER_MIN = 0.5
REPORT_MIN = 0.3
MAX_ALL_PAIRS = 5000
COMMON_SHARE = 0.02
COMMON_MIN = 5
WEIGHTS = {"code": 0.4, "strings": 0.4, "tlsh": 0.2}
MIN_CODE_FUNCTIONS = 3


@dataclass(slots=True)
class Pair:
    a: int
    b: int
    code: float = 0.0
    shared_functions: int = 0
    strings: float = 0.0
    shared_strings: int = 0
    tlsh: float = 0.0
    layers: tuple[str, ...] = ("code", "strings", "tlsh")
    ssdeep: float = 0.0
    same_imphash: bool = False
    same_rich: bool = False
    identical: bool = False

    @property
    def score(self) -> float:
        if self.identical:
            return 1.0
        total = sum(WEIGHTS[k] for k in self.layers)
        base = (
            sum(WEIGHTS[k] * float(getattr(self, k)) for k in self.layers) / total if total else 0.0
        )
        base = max(base, self.ssdeep)
        bonus = (0.05 if self.same_imphash else 0.0) + (0.03 if self.same_rich else 0.0)
        return min(1.0, base + (bonus if base > 0 else 0.0))

    def basis(self) -> list[str]:
        out = ["identical file (same SHA-256)"] if self.identical else []
        if self.code:
            out.append(f"code {self.code:.2f} ({self.shared_functions} shared functions)")
        if self.strings:
            out.append(f"strings {self.strings:.2f} ({self.shared_strings} shared)")
        if self.tlsh:
            out.append(f"tlsh {self.tlsh:.2f}")
        if self.ssdeep:
            out.append(f"ssdeep {self.ssdeep:.2f}")
        if self.same_imphash:
            out.append("same imphash")
        if self.same_rich:
            out.append("same Rich header")
        return out


@dataclass(slots=True)
class Comparison:
    files: list[FileFeatures]
    pairs: dict[tuple[int, int], Pair]
    common: set[str]
    kept: list[set[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def nearest(self, i: int, layer: str = "score") -> tuple[int, float] | None:
        best: tuple[int, float] | None = None
        for (a, b), p in self.pairs.items():
            if i not in (a, b):
                continue
            value = p.score if layer == "score" else float(getattr(p, layer))
            if value <= 0:
                continue
            j = b if a == i else a
            if best is None or value > best[1] or (value == best[1] and j < best[0]):
                best = (j, value)
        return best


def compare(
    files: list[FileFeatures], *, common_share: float = COMMON_SHARE, common_min: int = COMMON_MIN
) -> Comparison:
    n = len(files)
    pairs: dict[tuple[int, int], Pair] = {}

    def pair(a: int, b: int) -> Pair:
        key = (a, b) if a < b else (b, a)
        p = pairs.get(key)
        if p is None:
            p = pairs[key] = Pair(*key)
        return p

    code_sets = [f.function_hashes for f in files]
    common, kept, code_pairs = _weighted_jaccard(code_sets, n, common_share, common_min)
    for (a, b), (sim, k) in code_pairs.items():
        p = pair(a, b)
        p.code, p.shared_functions = sim, k
    _, _, string_pairs = _weighted_jaccard([f.strings for f in files], n, common_share, common_min)
    for (a, b), (sim, k) in string_pairs.items():
        p = pair(a, b)
        p.strings, p.shared_strings = sim, k
    notes = []
    if n <= MAX_ALL_PAIRS:
        by_block: dict[int, list[int]] = defaultdict(list)
        for i, f in enumerate(files):
            if f.ssdeep:
                by_block[int(f.ssdeep.split(":", 1)[0])].append(i)
        for a, b in combinations(range(n), 2):
            fa, fb = files[a], files[b]
            if fa.tlsh and fb.tlsh:
                t = tlsh_similarity(fa.tlsh, fb.tlsh)
                if t > 0:
                    pair(a, b).tlsh = t
        for block, members in by_block.items():
            candidates = list(combinations(members, 2))
            candidates += [(a, b) for a in members for b in by_block.get(block * 2, [])]
            for a, b in candidates:
                s = ssdeep_compare(files[a].ssdeep or "", files[b].ssdeep or "")
                if s > 0:
                    pair(a, b).ssdeep = s / 100.0
    else:
        notes.append(
            f"{n} files: whole-file hashes were compared only within code candidates (more "
            f"than {MAX_ALL_PAIRS} files)"
        )
    by_sha: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(files):
        by_sha[f.sha256].append(i)
    for members in by_sha.values():
        for a, b in combinations(members, 2):
            pair(a, b).identical = True
    comparable = [len(k) >= MIN_CODE_FUNCTIONS for k in kept]
    for (a, b), p in pairs.items():
        fa, fb = files[a], files[b]
        if not (comparable[a] and comparable[b]):
            p.layers = ("strings", "tlsh")
        p.same_imphash = bool(fa.imphash and fa.imphash == fb.imphash and fa.imports >= 5)
        p.same_rich = bool(fa.rich_hash and fa.rich_hash == fb.rich_hash)
    return Comparison(files=files, pairs=pairs, common=common, kept=kept, notes=notes)


def _weighted_jaccard(
    sets: list[set[str]], n: int, common_share: float, common_min: int
) -> tuple[set[str], list[set[str]], dict[tuple[int, int], tuple[float, int]]]:
    """(dropped common items, kept items per file, {(a, b): (similarity, shared items)})."""
    freq: Counter[str] = Counter()
    for s in sets:
        freq.update(s)
    cap = max(common_min, int(common_share * n))
    common = {h for h, c in freq.items() if c > cap}
    kept = [s - common for s in sets]
    weight = {h: math.log1p(n / c) for h, c in freq.items() if c <= cap}
    totals = [sum(weight[h] for h in k) for k in kept]
    postings: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(kept):
        for h in k:
            postings[h].append(i)
    inter: dict[tuple[int, int], float] = defaultdict(float)
    count: Counter[tuple[int, int]] = Counter()
    for h, members in postings.items():
        w = weight[h]
        for a, b in combinations(members, 2):
            inter[(a, b)] += w
            count[(a, b)] += 1
    out = {}
    for key, x in inter.items():
        union = totals[key[0]] + totals[key[1]] - x
        if union > 0:
            out[key] = (x / union, count[key])
    return common, kept, out


def clusters(cmp: Comparison, threshold: float = CLUSTER_MIN) -> list[list[int]]:
    parent = list(range(len(cmp.files)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for (a, b), p in cmp.pairs.items():
        if p.score >= threshold:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(cmp.files)):
        groups[find(i)].append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))


def shared_functions(cmp: Comparison, a: int, b: int, limit: int = 25) -> list[dict[str, Any]]:
    """The functions two files share (largest first): address and size in each."""
    fa = {f.hash: f for f in cmp.files[a].functions}
    fb = {f.hash: f for f in cmp.files[b].functions}
    common = (set(fa) & set(fb)) - cmp.common
    rows = sorted(common, key=lambda h: (-fa[h].size, h))[:limit]
    return [_fn(fa[h], fb[h]) for h in rows]


def _fn(x: Function, y: Function) -> dict[str, Any]:
    return {
        "hash": x.hash,
        "a_rva": f"0x{x.rva:x}",
        "a_size": x.size,
        "b_rva": f"0x{y.rva:x}",
        "b_size": y.size,
        "insns": x.insns,
    }


def shared_strings(cmp: Comparison, a: int, b: int, limit: int = 20) -> list[str]:
    common = cmp.files[a].strings & cmp.files[b].strings
    return sorted(common, key=lambda s: (-len(s), s))[:limit]


__all__ = [
    "CLUSTER_MIN",
    "REPORT_MIN",
    "Comparison",
    "Pair",
    "clusters",
    "compare",
    "shared_functions",
    "shared_strings",
]
