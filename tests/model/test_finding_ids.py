"""The finding-id scheme (duqhunt.model.finding.finding_id) from its definition: an id is the
detector id and a hash of the detector's natural key (hosts, addresses, the file's content),
never of run-dependent things. So the same evidence gives the same ids when its rows come in
another order, when unrelated rows are added, and when it lies in other folders; another
detector or another host gives another id; and every id has one format."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.finding import finding_id
from duqhunt.simulate import SimConfig, simulate
from duqhunt.simulate.documents import write_lure
from duqhunt.simulate.host import write_triage_folders

ID = re.compile(r"^(DQ-(?:NET|HOST|DOC)-\d{3})-([0-9a-f]{16})$")


def test_id_format_and_what_it_depends_on() -> None:
    a = finding_id("DQ-NET-002", "ip", "10.1.0.15", "206.183.111.97")
    m = ID.match(a)
    assert m and m.group(1) == "DQ-NET-002"
    assert a == finding_id("DQ-NET-002", "ip", "10.1.0.15", "206.183.111.97")
    assert a != finding_id("DQ-NET-003", "ip", "10.1.0.15", "206.183.111.97")  # detector
    assert a != finding_id("DQ-NET-002", "ip", "10.1.0.16", "206.183.111.97")  # host
    assert a != finding_id("DQ-NET-002", "ip", "206.183.111.97", "10.1.0.15")  # direction
    # key parts are separated: moving a character across a boundary is another key
    assert finding_id("DQ-X-001", "ab", "c") != finding_id("DQ-X-001", "a", "bc")


def test_id_is_the_documented_hash_so_saved_verdicts_keep_their_findings() -> None:
    """Triage verdicts are stored under finding ids (duqhunt.triage); an id computed another way
    by a later version would orphan every verdict of an existing case. The scheme: the first 16
    hex digits of SHA-256 over the detector id and the key parts, joined by the ASCII unit
    separator (0x1F), UTF-8."""
    import hashlib

    key = ("ip", "10.1.0.15", "206.183.111.97", 445)
    text = "\x1f".join(["DQ-NET-002", *map(str, key)]).encode("utf-8")
    want = "DQ-NET-002-" + hashlib.sha256(text).hexdigest()[:16]
    assert finding_id("DQ-NET-002", *key) == want


@pytest.fixture(scope="module")
def evidence(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, tuple[str, ...]]]:
    """The demo's evidence and the ids its hunt gives (network, host and document findings)."""
    root = tmp_path_factory.mktemp("ids")
    truth = simulate(root / "zeek", seed=7, config=SimConfig(), meta_dir=root)
    write_triage_folders(root / "host", truth, 7)
    write_lure(root / "mail")
    first = _hunt(root, root / "zeek", root / "host", root / "mail", root / "out")
    assert {d.split("-")[1] for d, *_ in first.values()} == {"NET", "HOST", "DOC"}
    return root, first


def _hunt(root: Path, zeek: Path, host: Path, mail: Path, out: Path) -> dict[str, tuple[str, ...]]:
    doc = hunt(
        HuntOptions(
            inputs=(zeek, host, mail),
            out=out,
            allowlists=(root / "known-good.yaml",),
            threads=2,
        )
    )
    ids = [f.id for f in doc.findings]
    assert len(ids) == len(set(ids))  # one id per finding: other hosts, other ids
    for f in doc.findings:
        m = ID.match(f.id)
        assert m and m.group(1) == f.detector, f.id
    return {f.id: (f.detector, *f.hosts) for f in doc.findings}


def _shuffled_copy(src: Path, dst: Path, rng: random.Random) -> None:
    """The folder copied elsewhere with the data lines of every log in another order (Zeek
    header lines first, as Zeek writes them; JSON event lines all shuffled)."""
    shutil.copytree(src, dst)
    for p in dst.rglob("*"):
        if p.suffix not in (".log", ".jsonl"):
            continue
        lines = p.read_text(encoding="utf-8").splitlines()
        head = [x for x in lines if x.startswith("#") and not x.startswith("#close")]
        tail = [x for x in lines if x.startswith("#close")]
        body = [x for x in lines if not x.startswith("#")]
        rng.shuffle(body)
        p.write_text("\n".join(head + body + tail) + "\n", encoding="utf-8")


def test_same_evidence_same_ids_in_any_order_and_folder(
    evidence: tuple[Path, dict[str, tuple[str, ...]]], tmp_path: Path
) -> None:
    root, first = evidence
    other = tmp_path / "elsewhere" / "case-2"
    rng = random.Random(19)
    _shuffled_copy(root / "zeek", other / "net", rng)
    _shuffled_copy(root / "host", other / "triage", rng)
    # the same file in another folder (a document's ids key on its content hash and its name
    # inside the evidence, not on the folder it lies in)
    shutil.copytree(root / "mail", other / "attachments")
    again = _hunt(root, other / "net", other / "triage", other / "attachments", tmp_path / "b")
    assert again == first


def test_unrelated_rows_leave_the_ids_of_the_findings_alone(
    evidence: tuple[Path, dict[str, tuple[str, ...]]], tmp_path: Path
) -> None:
    root, first = evidence
    zeek = tmp_path / "zeek"
    shutil.copytree(root / "zeek", zeek)
    conn = zeek / "conn.log"
    lines = conn.read_text(encoding="utf-8").splitlines()
    fields = next(x for x in lines if x.startswith("#fields")).split("\t")[1:]
    sample = next(x for x in lines if not x.startswith("#")).split("\t")
    extra = []
    for k in range(200):  # a new internal pair talking over HTTPS, nothing to find in it
        row = dict(zip(fields, sample, strict=True))
        row.update(
            {
                "uid": f"Cunrelated{k}",
                "id.orig_h": "10.9.9.1",
                "id.resp_h": "10.9.9.2",
                "id.resp_p": "443",
                "ts": f"{float(row['ts']) + 37 * k:.6f}",
            }
        )
        extra.append("\t".join(row[f] for f in fields))
    body_end = max(i for i, x in enumerate(lines) if not x.startswith("#")) + 1
    conn.write_text("\n".join(lines[:body_end] + extra + lines[body_end:]) + "\n", "utf-8")
    more = _hunt(root, zeek, root / "host", root / "mail", tmp_path / "b")
    assert {k: v for k, v in more.items() if k in first} == first
    assert set(first) <= set(more)
