"""Sample similarity: which PE files are one family, which match a known family, and why.

    analyse([paths...], refs=[pack.yaml or a folder of family sub-folders]) -> SimilarityResult

Nothing is executed: files are parsed (pefile) and disassembled (capstone) only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from duqhunt.errors import ContentError, InputError
from duqhunt.similarity.compare import (
    CLUSTER_MIN,
    REPORT_MIN,
    Comparison,
    clusters,
    compare,
    shared_functions,
    shared_strings,
)
from duqhunt.similarity.features import FileFeatures, extract
from duqhunt.similarity.fuzzy import ssdeep_backend, tlsh_similarity

log = logging.getLogger(__name__)
MAX_FILES = 100_000
SCHEMA_VERSION = "1.0"


class RefFamily(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: str
    confidence: float = Field(ge=0.0, le=1.0)
    md5: list[str] = Field(default_factory=list)
    sha256: list[str] = Field(default_factory=list)
    imphash: list[str] = Field(default_factory=list)
    tlsh: list[str] = Field(default_factory=list)
    functions: list[str] = Field(default_factory=list)


class RefPack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    families: list[RefFamily]


def load_ref_pack(path: Path) -> RefPack:
    from duqhunt.content import load_yaml

    data = load_yaml(Path(path))
    try:
        return RefPack.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ContentError(f"{path}: {loc}: {first['msg']}") from None


def builtin_ref_packs() -> list[RefPack]:
    here = Path(__file__).resolve().parents[1] / "content" / "similarity"
    return [load_ref_pack(p) for p in sorted(here.glob("*.yaml"))]


@dataclass(slots=True)
class SimilarityResult:
    files: list[FileFeatures]
    comparison: Comparison
    clusters: list[list[int]]
    matches: list[dict[str, Any]] = field(default_factory=list)
    not_analysed: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    references: set[int] = field(default_factory=set)  # indices of reference samples
    reference_family: dict[int, str] = field(default_factory=dict)


def find_pe_files(paths: Iterable[Path], not_analysed: list[dict[str, str]]) -> list[Path]:
    """Regular files that start with MZ, under the given files and folders (symlinks out of
    a folder are not followed)."""
    out: list[Path] = []
    for root in paths:
        root = Path(root)
        if root.is_file():
            candidates: Iterable[Path] = [root]
        elif root.is_dir():
            candidates = sorted(
                Path(d) / f for d, _, fs in os.walk(root, followlinks=False) for f in fs
            )
        else:
            not_analysed.append({"path": str(root), "reason": "no such file or folder"})
            continue
        for p in candidates:
            if p.is_symlink() and root.is_dir():
                not_analysed.append({"path": str(p), "reason": "symbolic link not followed"})
                continue
            try:
                if not p.is_file():
                    not_analysed.append({"path": str(p), "reason": "not a regular file"})
                    continue
                with open(p, "rb") as fh:
                    magic = fh.read(2)
            except OSError as exc:
                not_analysed.append({"path": str(p), "reason": f"cannot read ({exc.strerror})"})
                continue
            if magic == b"MZ":
                out.append(p)
            elif root.is_file():
                not_analysed.append({"path": str(p), "reason": "not a PE file (no MZ header)"})
            if len(out) >= MAX_FILES:
                return out
    return out


def _extract_one(path: str) -> FileFeatures | tuple[str, str]:
    try:
        return extract(Path(path))
    except InputError as exc:
        return (exc.path, exc.reason)


def analyse(
    paths: Iterable[Path],
    *,
    refs: Iterable[Path] = (),
    builtin_refs: bool = True,
    jobs: int | None = None,
) -> SimilarityResult:
    not_analysed: list[dict[str, str]] = []
    targets = find_pe_files(paths, not_analysed)
    packs = builtin_ref_packs() if builtin_refs else []
    ref_samples: list[tuple[Path, str]] = []
    for r in refs:
        r = Path(r)
        if r.is_dir():
            for fam_dir in sorted(p for p in r.iterdir() if p.is_dir()):
                ref_samples += [(p, fam_dir.name) for p in find_pe_files([fam_dir], [])]
        else:
            packs.append(load_ref_pack(r))
    all_paths = [str(p) for p in targets] + [str(p) for p, _ in ref_samples]
    workers = max(1, min(jobs or os.cpu_count() or 1, 8))
    feats: list[FileFeatures] = []
    ref_index: dict[int, str] = {}
    results: list[FileFeatures | tuple[str, str]]
    if workers > 1 and len(all_paths) > 4:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_extract_one, all_paths, chunksize=8))
    else:
        results = [_extract_one(p) for p in all_paths]
    n_targets = len(targets)
    for k, res in enumerate(results):
        if isinstance(res, tuple):
            not_analysed.append({"path": res[0], "reason": res[1]})
            continue
        if k >= n_targets:
            ref_index[len(feats)] = ref_samples[k - n_targets][1]
        feats.append(res)
    cmp = compare(feats)
    result = SimilarityResult(
        files=feats,
        comparison=cmp,
        clusters=clusters(cmp),
        not_analysed=not_analysed,
        references=set(ref_index),
        reference_family=ref_index,
    )
    result.matches = _matches(result, packs)
    for i, f in enumerate(feats):
        for lim in f.limits:
            result.warnings.append(f"{f.path}: {lim}")
        if f.not_comparable and i not in ref_index:
            result.warnings.append(f"{f.path}: not comparable by code: {f.not_comparable}")
    return result


def _matches(result: SimilarityResult, packs: list[RefPack]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, f in enumerate(result.files):
        if i in result.references:
            continue
        for pack in packs:
            for fam in pack.families:
                basis: list[str] = []
                score = 0.0
                if f.md5 in {h.lower() for h in fam.md5} or f.sha256 in {
                    h.lower() for h in fam.sha256
                }:
                    basis.append("exact file hash")
                    score = 1.0
                if f.tlsh and fam.tlsh:
                    t = max(tlsh_similarity(f.tlsh, x) for x in fam.tlsh)
                    if t > 0.5:
                        basis.append(f"tlsh {t:.2f}")
                        score = max(score, 0.9 * t)
                if fam.functions and f.function_hashes:
                    ref = set(fam.functions)
                    k = len(ref & f.function_hashes)
                    if k:
                        j = k / len(ref | f.function_hashes)
                        basis.append(f"{k} shared functions (Jaccard {j:.2f})")
                        score = max(score, j)
                if f.imphash and f.imphash in fam.imphash:
                    basis.append("same imphash")
                    score = max(score, 0.5)
                if score >= 0.5:
                    out.append(
                        {
                            "file": f.path,
                            "sha256": f.sha256,
                            "family": fam.name,
                            "pack": pack.name,
                            "score": round(score, 4),
                            "confidence": fam.confidence,
                            "basis": basis,
                            "source": fam.source,
                        }
                    )
        # reference samples given as folders: nearest reference above the cluster threshold
        best: tuple[float, int] | None = None
        for j in result.references:
            p = result.comparison.pairs.get((min(i, j), max(i, j)))
            if p is not None and p.score >= CLUSTER_MIN and (best is None or p.score > best[0]):
                best = (p.score, j)
        if best is not None:
            p = result.comparison.pairs[(min(i, best[1]), max(i, best[1]))]
            out.append(
                {
                    "file": f.path,
                    "sha256": f.sha256,
                    "family": result.reference_family[best[1]],
                    "pack": "reference samples",
                    "score": round(best[0], 4),
                    "confidence": round(best[0], 4),
                    "basis": [f"like reference {result.files[best[1]].path}", *p.basis()],
                    "source": result.files[best[1]].path,
                }
            )
    return out


def to_document(result: SimilarityResult) -> dict[str, Any]:
    """similarity.json: files[], pairs[], clusters[], matches[], not_analysed[], warnings[]."""
    cmp = result.comparison
    files = []
    for i, f in enumerate(result.files):
        near = cmp.nearest(i)
        files.append(
            {
                "path": f.path,
                "sha256": f.sha256,
                "md5": f.md5,
                "size": f.size,
                "machine": f.machine,
                "imphash": f.imphash,
                "rich_hash": f.rich_hash,
                "tlsh": f.tlsh,
                "ssdeep": f.ssdeep,
                "signer": f.signer,
                "functions": len(f.functions),
                "code_method": f.code_method,
                "not_comparable": f.not_comparable,
                "reference_family": result.reference_family.get(i),
                "nearest": (
                    {"path": result.files[near[0]].path, "score": round(near[1], 4)}
                    if near
                    else None
                ),
            }
        )
    pairs = []
    for (a, b), p in sorted(cmp.pairs.items(), key=lambda kv: (-kv[1].score, kv[0])):
        if p.score < REPORT_MIN:
            continue
        pairs.append(
            {
                "a": result.files[a].path,
                "b": result.files[b].path,
                "score": round(p.score, 4),
                "basis": p.basis(),
                "shared_functions": shared_functions(cmp, a, b),
                "shared_strings": shared_strings(cmp, a, b),
            }
        )
    clusters_out = []
    for members in result.clusters:
        fs = [result.files[i] for i in members]
        common_funcs = set.intersection(*(cmp.kept[i] for i in members)) if members else set()
        imphashes = {f.imphash for f in fs}
        signers = {f.signer for f in fs}
        names = sorted({Path(f.path).name for f in fs})
        clusters_out.append(
            {
                "members": [f.path for f in fs],
                "names": names,
                "shares": {
                    "functions_in_every_member": len(common_funcs),
                    "imphash": next(iter(imphashes)) if len(imphashes) == 1 else None,
                    "signer": next(iter(signers)) if len(signers) == 1 else None,
                },
                "summary": (
                    f"one family of {len(fs)} files under {len(names)} name(s)"
                    + (f", {len(common_funcs)} functions in all" if common_funcs else "")
                ),
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "duqhunt",
        "ssdeep_backend": ssdeep_backend(),
        "files": files,
        "pairs": pairs,
        "clusters": clusters_out,
        "matches": result.matches,
        "not_analysed": result.not_analysed,
        "warnings": result.warnings,
        "stats": {
            "files": len(result.files),
            "pairs_scored": len(cmp.pairs),
            "common_functions_dropped": len(cmp.common),
            "notes": cmp.notes,
        },
    }


def write_similarity(result: SimilarityResult, out_dir: Path) -> dict[str, Path]:
    from duqhunt.render.similarity import render_similarity_html

    out_dir.mkdir(parents=True, exist_ok=True)
    doc = to_document(result)
    paths = {"json": out_dir / "similarity.json", "html": out_dir / "similarity.html"}
    paths["json"].write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
    paths["html"].write_text(render_similarity_html(doc), "utf-8")
    return paths


__all__ = [
    "RefFamily",
    "RefPack",
    "SimilarityResult",
    "analyse",
    "builtin_ref_packs",
    "find_pe_files",
    "load_ref_pack",
    "to_document",
    "write_similarity",
]
