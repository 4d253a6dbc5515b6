"""JSON outputs of the report document, writing them to disk, and loading a saved report.

report.json is the document itself: model fields in declaration order, free-form mappings
(finding details, stats, campaign edges) with sorted keys, so the same document always gives
the same bytes (golden snapshots, diffs between runs). findings.jsonl is one finding per line
for SIEM ingestion, ASCII only so that no line splitter can break a line inside a value.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from duqhunt.errors import InputError
from duqhunt.model.grouping import MAX_OCCURRENCES
from duqhunt.model.report import SCHEMA_VERSION, ReportDocument
from duqhunt.render.html import render_html
from duqhunt.triage import without_benign

__all__ = [
    "MAX_REPORT_BYTES",
    "capped_occurrences",
    "load_report",
    "render_json",
    "render_jsonl",
    "write_outputs",
]

#: load_report refuses larger files (a report is our own output, but it may come from anywhere).
MAX_REPORT_BYTES = 1 << 30

OUTPUT_NAMES: dict[str, str] = {
    "json": "report.json",
    "jsonl": "findings.jsonl",
    "html": "report.html",
}


def _canonical(obj: Any, dumped: Any, where: str) -> Any:
    """`dumped` (obj.model_dump(mode="json")) with free-form dict keys sorted.

    Walks the model next to its dump so model fields keep declaration order. Non-finite floats
    are refused: JSON has no NaN, and pydantic would write null, which the model then rejects
    when the report is loaded again.
    """
    if isinstance(obj, BaseModel):
        return {
            name: _canonical(getattr(obj, name), dumped[name], f"{where}.{name}")
            for name in type(obj).model_fields
        }
    if isinstance(dumped, dict):
        src: Mapping[Any, Any] = obj if isinstance(obj, Mapping) else {}
        by_text = {str(k): v for k, v in src.items()}
        return {
            key: _canonical(by_text.get(key), dumped[key], f"{where}.{key}")
            for key in sorted(dumped)
        }
    if isinstance(dumped, list):
        same = isinstance(obj, list | tuple) and len(obj) == len(dumped)
        items = list(obj) if same else [None] * len(dumped)
        return [
            _canonical(o, d, f"{where}[{i}]")
            for i, (o, d) in enumerate(zip(items, dumped, strict=True))
        ]
    if isinstance(dumped, float) and not math.isfinite(dumped):
        raise ValueError(f"report field {where} is {dumped!r}; JSON has no NaN or infinity")
    return dumped


def _document_data(doc: ReportDocument) -> dict[str, Any]:
    data = _canonical(doc, doc.model_dump(mode="json"), "report")
    assert isinstance(data, dict)
    return data


def capped_occurrences(doc: ReportDocument, cap: int = MAX_OCCURRENCES) -> ReportDocument:
    """`doc` with each finding's occurrences cut to the first `cap` (its ``count`` keeps the
    number of all of them): report.json stays small under an event storm of thousands."""
    if all(len(f.occurrences) <= cap for f in doc.findings):
        return doc
    findings = [
        f.model_copy(update={"occurrences": f.occurrences[:cap]}) if len(f.occurrences) > cap else f
        for f in doc.findings
    ]
    return doc.model_copy(update={"findings": findings})


def render_json(doc: ReportDocument) -> str:
    """report.json text: indent 2, stable key order, UTF-8 (non-ASCII kept), trailing newline.
    Occurrences are capped (see capped_occurrences); findings.jsonl has them all."""
    data = _document_data(capped_occurrences(doc))
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render_jsonl(doc: ReportDocument) -> str:
    """findings.jsonl text: one JSON object per finding, in document order.

    Each line is the finding as in report.json, with every occurrence of a merged event storm
    (report.json caps them), plus "report_started" and "tool_version", so a SIEM can tell runs
    apart. Empty string when there are no findings.
    """
    findings = _document_data(doc)["findings"]
    lines = []
    for finding in findings:
        record = dict(finding)
        record["report_started"] = doc.started
        record["tool_version"] = doc.tool_version
        lines.append(json.dumps(record, ensure_ascii=True, allow_nan=False, separators=(",", ":")))
    return "".join(line + "\n" for line in lines)


def _write_atomic(path: Path, text: str) -> None:
    """Write `text` as UTF-8 to a temporary file beside `path`, fsync it, then rename over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    data = text.encode("utf-8", errors="replace")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_outputs(
    doc: ReportDocument, out_dir: Path, *, hide_benign: bool = False
) -> dict[str, Path]:
    """Write report.json, findings.jsonl and report.html into `out_dir` (created if missing).
    With ``hide_benign`` report.html leaves out findings marked benign in triage (report.json
    and findings.jsonl keep every finding).

    All three are rendered before anything is written, and each file is replaced atomically,
    so a failure never leaves a half-written report. Returns {"json"|"jsonl"|"html": path}.
    """
    rendered = {
        "json": render_json(doc),
        "jsonl": render_jsonl(doc),
        "html": render_html(without_benign(doc) if hide_benign else doc),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for key, text in rendered.items():
        path = out_dir / OUTPUT_NAMES[key]
        _write_atomic(path, text)
        paths[key] = path
    return paths


def _describe_validation(exc: ValidationError, limit: int = 5) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    parts = []
    for err in errors[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(document)"
        parts.append(f"{loc}: {err['msg']}")
    more = len(errors) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def load_report(path: Path, *, max_bytes: int = MAX_REPORT_BYTES) -> ReportDocument:
    """Load and validate a saved report.json.

    Raises InputError naming the file when it cannot be read, is too large, is not JSON, was
    written with an incompatible schema major version, or does not match the schema.
    """
    where = str(path)
    try:
        size = os.stat(path).st_size
        if size > max_bytes:
            raise InputError(where, f"report is {size} bytes, over the {max_bytes}-byte limit")
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(where, f"cannot read report: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(where, "report is not UTF-8 text", offset=exc.start) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            where, f"not valid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno
        ) from exc
    except RecursionError as exc:
        raise InputError(where, "not valid JSON: nested too deeply") from exc
    if not isinstance(data, dict):
        raise InputError(where, f"not a duqhunt report: top level is {type(data).__name__}")
    version = data.get("schema_version")
    if isinstance(version, str):
        major, want = version.split(".", 1)[0], SCHEMA_VERSION.split(".", 1)[0]
        if major != want:
            raise InputError(
                where,
                f"report schema {version} is not readable by this duqhunt (reads {want}.x)",
            )
    try:
        doc = ReportDocument.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            where, f"does not match the report schema: {_describe_validation(exc)}"
        ) from exc
    return _with_identities_of_old(doc)


def _with_identities_of_old(doc: ReportDocument) -> ReportDocument:
    """A report from before hosts[] (schema 1.2 and earlier) gets its machines, host_ids and
    timeline from what it holds (its campaign hosts' names), so every output has them."""
    from duqhunt.campaign.identity import needs_identities, with_identities

    return with_identities(doc) if needs_identities(doc) else doc
