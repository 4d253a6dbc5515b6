"""Every renderer reads the report document and nothing else.

A hunt writes its case folder (report.json beside case.duckdb and the triage file). A fresh
interpreter then loads report.json from disk and renders every output from it (terminal
summary, report.html with its host pages, kill chain, topology and map, CSV, JSON, JSON
Lines, STIX) under an audit hook that records every file it opens and every socket it
connects (or binds, beyond loopback). The only file of the case folder it may open is report.json: not the DuckDB case,
not the triage store, not the hunted logs. Files of the Python installation and of the duqhunt
package (templates, the shipped intel and ATT&CK data) are reference data, not the case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.render import write_outputs
from duqhunt.simulate import SimConfig, simulate
from duqhunt.simulate.host import write_triage_folders

_RENDER_ALL = r"""
import json, sys
opened, sockets = [], []

def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)) or event == "os.listdir":
        opened.append(str(args[0]))
    elif event in ("socket.connect", "sqlite3.connect"):
        sockets.append(event)
    elif event == "socket.bind" and args[1][0] not in ("::1", "127.0.0.1"):
        sockets.append(event)  # urllib3 binds ::1 once on import to see whether IPv6 works

sys.addaudithook(hook)
import io
from pathlib import Path
from rich.console import Console
from duqhunt.intel.stix import to_stix_bundle
from duqhunt.render import load_report, render_csv, render_html, render_json, render_jsonl
from duqhunt.render import render_summary

doc = load_report(Path(sys.argv[1]))
out = {
    "html": render_html(doc),
    "csv": render_csv(doc),
    "json": render_json(doc),
    "jsonl": render_jsonl(doc),
    "stix": str(to_stix_bundle(doc)),
}
buf = io.StringIO()
render_summary(doc, Console(file=buf, width=80))
out["text"] = buf.getvalue()
print(json.dumps({
    "opened": opened,
    "sockets": sockets,
    "duckdb": "duckdb" in sys.modules,
    "sizes": {k: len(v) for k, v in out.items()},
}))
"""


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("report-only")
    truth = simulate(base / "zeek", seed=7, config=SimConfig(hosts=40, days=1.0), meta_dir=base)
    write_triage_folders(base / "host", truth, 7)
    doc = hunt(
        HuntOptions(
            inputs=(base / "zeek", base / "host"),
            out=base / "case",
            allowlists=(base / "known-good.yaml",),
            threads=2,
        )
    )
    write_outputs(doc, base / "case")  # what `duqhunt hunt --out` writes
    return base


def test_every_renderer_reads_only_report_json(case_folder: Path) -> None:
    case = case_folder / "case"
    assert (case / "report.json").is_file() and (case / "case.duckdb").is_file()
    env = dict(os.environ)
    # the same duqhunt as this test run, with paths that do not depend on the working folder
    paths = [str(Path(__file__).resolve().parents[2] / "src")]
    paths += [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    run = subprocess.run(
        [sys.executable, "-c", _RENDER_ALL, str(case / "report.json")],
        capture_output=True,
        text=True,
        env=env,
        cwd=case_folder,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    root = str(case_folder.resolve())
    touched = sorted(
        {p for p in seen["opened"] if str(Path(root, p).resolve()).startswith(root + os.sep)}
    )
    assert touched == [str(case / "report.json")]
    assert seen["sockets"] == []
    assert not seen["duckdb"], "rendering imported DuckDB (the case store's engine)"
    assert all(n > 0 for k, n in seen["sizes"].items()), seen["sizes"]
    assert seen["sizes"]["html"] > 50_000  # the whole report, host pages included
