"""Outputs of the report document: terminal summary, JSON, JSON Lines, CSV and offline HTML.

Every renderer reads one frozen `ReportDocument`; a saved report.json re-renders without
re-analysis (`load_report` then any `render_*`).
"""

from duqhunt.render.csvout import render_csv
from duqhunt.render.html import render_html
from duqhunt.render.jsonout import load_report, render_json, render_jsonl, write_outputs
from duqhunt.render.text import render_summary

__all__ = [
    "load_report",
    "render_csv",
    "render_html",
    "render_json",
    "render_jsonl",
    "render_summary",
    "write_outputs",
]
