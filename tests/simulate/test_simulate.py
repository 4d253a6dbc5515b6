"""The campaign simulator: deterministic, well-formed Zeek logs whose ground truth is honest."""

from __future__ import annotations

import gzip
import itertools
import json
import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from duqhunt.errors import UsageError
from duqhunt.simulate import DUQU_USER_AGENT, KNOWN_C2_IP, NEW_C2_IP, SimConfig, simulate
from duqhunt.simulate._emit import SIM_LOGS
from duqhunt.sources.net.zeek_schema import LOGS

LOG_TYPES = SIM_LOGS
SMALL = SimConfig(hosts=40, days=1.0)

Row = dict[str, str]


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8").split("\n")[:-1]


def _rows(folder: Path, log_type: str) -> Iterator[Row]:
    path = folder / f"{log_type}.log"
    if not path.exists():
        path = folder / f"{log_type}.log.gz"
    fields: list[str] = []
    for line in _lines(path):
        if line.startswith("#fields\t"):
            fields = line.split("\t")[1:]
        elif not line.startswith("#"):
            yield dict(zip(fields, line.split("\t"), strict=True))


def _unbs(text: str) -> str:
    """Undo Zeek's backslash doubling (enough for the UNC paths the simulator writes)."""
    return text.replace("\\\\", "\\")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("small")
    return out, simulate(out, seed=11, config=SMALL)


@pytest.fixture(scope="module")
def knobs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("knobs")
    cfg = SimConfig(
        hosts=40, days=1.0, n_bridges=2, relay_depth=2, log_pipe_names=True, pipe_name="srvsvc"
    )
    return out, simulate(out, seed=5, config=cfg)


# -- determinism and format -------------------------------------------------------------------------


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    cfg = SimConfig(hosts=30, days=0.5)
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate(a, seed=3, config=cfg)
    simulate(b, seed=3, config=cfg)
    simulate(c, seed=4, config=cfg)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert names == sorted(
        [f"{t}.log" for t in LOG_TYPES] + ["ground_truth.json", "known-good.yaml"]
    )
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "conn.log").read_bytes() != (c / "conn.log").read_bytes()


def test_headers_parse_and_rows_are_well_formed(small: tuple[Path, dict[str, Any]]) -> None:
    out, truth = small
    start, end = truth["window"]
    for log_type in LOG_TYPES:
        lines = _lines(out / f"{log_type}.log")
        assert lines[0] == "#separator \\x09"
        assert lines[4] == f"#path\t{log_type}"
        assert lines[5] == "#open\t2011-10-14-00-00-00"
        fields = lines[6].split("\t")[1:]
        types = lines[7].split("\t")[1:]
        assert len(fields) == len(types)
        assert list(zip(fields, types, strict=True)) == LOGS[log_type]
        assert lines[-1] == "#close\t2011-10-15-00-00-00"
        body = lines[8:-1]
        assert len(body) == truth["log_rows"][log_type] > 0, log_type
        times = []
        for line in body:
            cells = line.split("\t")
            assert len(cells) == len(fields)
            times.append(float(cells[0]))
        assert times == sorted(times)
        if log_type == "conn":
            assert start <= times[0] and times[-1] < end


def test_ground_truth_file_matches_return_value(small: tuple[Path, dict[str, Any]]) -> None:
    out, truth = small
    on_disk = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(truth))
    assert truth["seed"] == 11
    assert truth["config"] == asdict(SMALL)
    assert truth["internal_networks"] == ["10.0.0.0/8"]
    for key in (
        "window", "c2", "beacon_pairs", "patient_zero", "infected", "bridges", "relays",
        "no_egress", "relay_edges", "lateral_moves", "periodic_services", "hostnames",
    ):  # fmt: skip
        assert key in truth, key
    assert {c["ip"]: c["in_pack"] for c in truth["c2"]} == {KNOWN_C2_IP: True, NEW_C2_IP: False}
    assert NEW_C2_IP not in ("206.183.111.97", "77.241.93.160")
    assert truth["patient_zero"] in truth["infected"]
    assert set(truth["bridges"]) <= set(truth["infected"])
    assert all(ip.startswith("10.") for ip in truth["hostnames"])
    assert not any(ip.startswith("127.") for ip in truth["hostnames"])


# -- the intrusion -------------------------------------------------------------------------------------


def test_beacons_look_like_duqu(small: tuple[Path, dict[str, Any]]) -> None:
    out, truth = small
    pz = truth["patient_zero"]
    bridge = truth["bridges"][0]
    pairs = {(p["src"], p["dst"]) for p in truth["beacon_pairs"]}
    assert pairs == {(pz, KNOWN_C2_IP), (bridge, KNOWN_C2_IP), (bridge, NEW_C2_IP)}
    c2_http = [r for r in _rows(out, "http") if r["id.resp_h"] in (KNOWN_C2_IP, NEW_C2_IP)]
    assert c2_http and all(r["user_agent"] == DUQU_USER_AGENT for r in c2_http)
    assert all(r["host"] == r["id.resp_h"] and r["uri"] == "/" for r in c2_http)
    assert {r["method"] for r in c2_http} == {"GET", "POST"}
    assert {r["id.resp_p"] for r in c2_http} <= {"80", "443"}
    posts = [r for r in c2_http if r["method"] == "POST"]
    assert all(r["orig_mime_types"] == "image/jpeg" for r in posts)
    assert all(r["orig_filenames"] == "DSC00001.jpg" for r in posts)
    sizes = {int(r["request_body_len"]) for r in posts}
    assert len(sizes) > len(posts) // 2  # bytes vary
    files = {r["fuid"]: r for r in _rows(out, "files")}
    for r in posts:
        f = files[r["orig_fuids"]]
        assert (f["source"], f["is_orig"], f["mime_type"]) == ("HTTP", "T", "image/jpeg")
        assert f["seen_bytes"] == f["total_bytes"] == r["request_body_len"]
    # the same hosts browse with a modern browser
    for host in (pz, bridge):
        own = {r["user_agent"] for r in _rows(out, "http") if r["id.orig_h"] == host}
        assert DUQU_USER_AGENT in own and len(own - {DUQU_USER_AGENT}) >= 1
    # no DNS for the C&C: it is contacted by bare IP
    assert not any(KNOWN_C2_IP in r["answers"] for r in _rows(out, "dns"))


def _intervals(out: Path, src: str, dst: str) -> list[float]:
    ts = sorted(
        float(r["ts"]) for r in _rows(out, "conn") if (r["id.orig_h"], r["id.resp_h"]) == (src, dst)
    )
    return [b - a for a, b in itertools.pairwise(ts)]


def test_beacon_interval_jitter_and_retries(small: tuple[Path, dict[str, Any]]) -> None:
    out, truth = small
    gaps = _intervals(out, truth["patient_zero"], KNOWN_C2_IP)
    regular = [g for g in gaps if g > 5]
    assert 0.9 * 600 < statistics.median(regular) < 1.1 * 600
    assert min(regular) > 0.75 * 600 and max(regular) < 1.25 * 600
    assert statistics.pstdev(regular) > 10  # jittered, not a metronome
    # new C&C from the bridge: same band, from the second half of the window on
    gaps = [g for g in _intervals(out, truth["bridges"][0], NEW_C2_IP) if g > 5]
    assert 0.9 * 600 < statistics.median(gaps) < 1.1 * 600
    start, end = truth["window"]
    first_new = min(float(r["ts"]) for r in _rows(out, "conn") if r["id.resp_h"] == NEW_C2_IP)
    assert first_new >= start + (end - start) / 2


def test_retries_one_second_apart(small: tuple[Path, dict[str, Any]]) -> None:
    out, _ = small
    c2 = [r for r in _rows(out, "conn") if r["id.resp_h"] == KNOWN_C2_IP]
    failed = [r for r in c2 if r["conn_state"] == "S0"]
    assert failed and len(failed) < len(c2) / 5  # occasional
    starts = defaultdict(list)
    for r in c2:
        starts[r["id.orig_h"]].append(float(r["ts"]))
    for r in failed:
        t = float(r["ts"])
        assert any(0.95 < u - t < 1.05 for u in starts[r["id.orig_h"]])


def test_periodic_services_are_at_least_as_regular_as_the_c2(
    small: tuple[Path, dict[str, Any]],
) -> None:
    out, truth = small
    names = {p["name"] for p in truth["periodic_services"]}
    assert names == {"ntp", "windows_update", "av_telemetry", "monitoring_agent"}
    av = next(p for p in truth["periodic_services"] if p["name"] == "av_telemetry")
    assert av["host"] and av["interval_s"] == 900.0 and not av["dst"].startswith("10.")
    by_src: dict[str, list[float]] = defaultdict(list)
    for r in _rows(out, "conn"):
        if r["id.resp_h"] == av["dst"]:
            by_src[r["id.orig_h"]].append(float(r["ts"]))
    assert len(by_src) >= 20  # every host with egress
    _, ts = next(iter(sorted(by_src.items())))
    ts.sort()
    gaps = [b - a for a, b in itertools.pairwise(ts)]
    c2 = [g for g in _intervals(out, truth["patient_zero"], KNOWN_C2_IP) if g > 5]
    cv = statistics.pstdev(gaps) / statistics.mean(gaps)
    assert cv < statistics.pstdev(c2) / statistics.mean(c2)
    assert all(abs(g - 900) < 5 for g in gaps)


def test_lateral_movement(small: tuple[Path, dict[str, Any]]) -> None:
    out, truth = small
    moves = truth["lateral_moves"]
    pz = truth["patient_zero"]
    from_pz = [m for m in moves if m["src"] == pz]
    assert len(from_pz) == SMALL.lateral_targets
    assert [m["method"] for m in from_pz].count("task") == 1
    assert set(truth["bridges"]) <= {m["dst"] for m in from_pz}
    conns = {
        (r["id.orig_h"], r["id.resp_h"], round(float(r["ts"]), 6)): r for r in _rows(out, "conn")
    }
    ntlm = {r["uid"]: r for r in _rows(out, "ntlm")}
    maps = defaultdict(list)
    for r in _rows(out, "smb_mapping"):
        maps[r["uid"]].append(_unbs(r["path"]))
    rpc = defaultdict(list)
    for r in _rows(out, "dce_rpc"):
        rpc[r["uid"]].append(r)
    sfiles = defaultdict(list)
    for r in _rows(out, "smb_files"):
        sfiles[r["uid"]].append(r)
    names = truth["hostnames"]
    for m in moves:
        assert m["account"] == "CORP\\adm_jsmith"
        c = conns[(m["src"], m["dst"], m["time"])]
        assert c["id.resp_p"] == "445"
        uid = c["uid"]
        assert ntlm[uid]["username"] == "adm_jsmith"
        assert f"\\\\{names[m['dst']]}\\{m['share']}" in maps[uid]
        written = [_unbs(f["name"]) for f in sfiles[uid] if f["action"] == "SMB::FILE_WRITE"]
        assert m["file"] in written
        ops = [r["operation"] for r in rpc[uid]]
        if m["method"] == "task":
            assert ops == ["NetrJobAdd"] and rpc[uid][0]["endpoint"] == "atsvc"
        else:
            assert ops == ["OpenSCManagerW", "CreateServiceW", "StartServiceW"]
            assert {_unbs(r["named_pipe"]) for r in rpc[uid]} == {"\\pipe\\svcctl"}
        assert 0 < float(rpc[uid][0]["ts"]) - m["time"] < 60
    exe = [
        r
        for r in _rows(out, "files")
        if r["source"] == "SMB" and r["mime_type"] == "application/x-dosexec"
    ]
    assert any(r["filename"].endswith("jminet7.sys") and r["is_orig"] == "T" for r in exe)


def test_secure_zone_relays_through_the_bridge(small: tuple[Path, dict[str, Any]]) -> None:
    out, truth = small
    bridge = truth["bridges"][0]
    secure = set(truth["no_egress"])
    assert len(secure) == SMALL.secure_zone_hosts
    assert {(e["src"], e["dst"]) for e in truth["relay_edges"]} == {(s, bridge) for s in secure}
    conn = list(_rows(out, "conn"))
    assert not any(r["id.orig_h"] in secure and not r["id.resp_h"].startswith("10.") for r in conn)
    assert {r["id.resp_p"] for r in conn if r["id.orig_h"] in secure} <= {"53", "88", "445"}
    sessions = sorted(
        float(r["ts"]) + float(r["duration"])
        for r in conn
        if r["id.orig_h"] in secure and r["id.resp_h"] == bridge
    )
    assert len(sessions) > 50
    maps = {
        _unbs(r["path"])
        for r in _rows(out, "smb_mapping")
        if r["id.orig_h"] in secure and r["id.resp_h"] == bridge
    }
    assert maps == {f"\\\\{truth['hostnames'][bridge]}\\IPC$"}
    bursts = sorted(
        float(r["ts"]) for r in conn if r["id.orig_h"] == bridge and r["id.resp_h"] == KNOWN_C2_IP
    )
    followed = sum(any(0 < b - s <= 10 for b in bursts) for s in sessions)
    assert followed / len(sessions) > 0.95
    # stock Zeek does not log pipe opens
    assert not any(r["action"] == "SMB::PIPE_OPEN" for r in _rows(out, "smb_files"))
    pipe = truth["config"]["pipe_name"]
    assert all(e["pipe"] == pipe for e in truth["relay_edges"])
    assert not any(pipe in line for line in _lines(out / "smb_files.log"))


def test_knobs_bridges_relays_and_pipe_names(knobs: tuple[Path, dict[str, Any]]) -> None:
    out, truth = knobs
    bridges, relays = set(truth["bridges"]), set(truth["relays"])
    assert len(bridges) == 2 and len(relays) == 2
    assert relays <= set(truth["no_egress"]) and not bridges & set(truth["no_egress"])
    secure = set(truth["no_egress"]) - relays
    edges = {(e["src"], e["dst"]) for e in truth["relay_edges"]}
    assert {d for s, d in edges if s in relays} == bridges
    assert {d for s, d in edges if s in secure} == relays
    assert all(e["pipe"] == "srvsvc" for e in truth["relay_edges"])
    assert {(p["src"], p["dst"]) for p in truth["beacon_pairs"] if p["src"] in bridges} == {
        (b, c) for b in bridges for c in (KNOWN_C2_IP, NEW_C2_IP)
    }
    conn = list(_rows(out, "conn"))
    assert not any(r["id.orig_h"] in relays and not r["id.resp_h"].startswith("10.") for r in conn)
    pipe_opens = [r for r in _rows(out, "smb_files") if r["action"] == "SMB::PIPE_OPEN"]
    relay_opens = {(r["id.orig_h"], r["id.resp_h"]) for r in pipe_opens if r["name"] == "srvsvc"}
    assert edges <= relay_opens  # every relay hop shows its pipe
    assert any(r["name"] == "lsarpc" for r in pipe_opens)  # and benign pipes are logged too
    # relayed sessions reach the bridges' C&C through two hops
    assert all(
        any(r["id.orig_h"] == b and r["id.resp_h"] == KNOWN_C2_IP for r in conn) for b in bridges
    )


def test_low_and_slow(tmp_path: Path) -> None:
    cfg = SimConfig(hosts=40, days=2.0, beacon_interval_s=7200.0, secure_zone_hosts=2)
    truth = simulate(tmp_path, seed=2, config=cfg)
    assert truth["config"]["beacon_interval_s"] == 7200.0
    gaps = [g for g in _intervals(tmp_path, truth["patient_zero"], KNOWN_C2_IP) if g > 5]
    assert 10 <= len(gaps) <= 30
    assert 0.85 * 7200 < statistics.median(gaps) < 1.15 * 7200
    sz = truth["relay_edges"][0]["src"]
    gaps = [g for g in _intervals(tmp_path, sz, truth["bridges"][0]) if g > 5]
    assert 0.85 * 7200 < statistics.median(gaps) < 1.15 * 7200


def test_clean_run_has_no_intrusion(tmp_path: Path) -> None:
    truth = simulate(tmp_path, seed=11, config=SimConfig(hosts=40, days=1.0, intrusion=False))
    assert truth["c2"] == [] and truth["beacon_pairs"] == [] and truth["lateral_moves"] == []
    assert truth["patient_zero"] is None and truth["infected"] == [] and truth["relay_edges"] == []
    assert truth["periodic_services"] and truth["no_egress"]
    for log_type in LOG_TYPES:
        text = "\n".join(_lines(tmp_path / f"{log_type}.log"))
        assert KNOWN_C2_IP not in text and NEW_C2_IP not in text, log_type
        assert DUQU_USER_AGENT not in text and "DSC00001.jpg" not in text
        assert "adm_jsmith\tWS" not in text  # the stolen account is never used over NTLM
    no_egress = set(truth["no_egress"])
    workstations = set(truth["roles"]["workstation"])
    assert not any(
        r["id.orig_h"] in no_egress and r["id.resp_h"] in workstations
        for r in _rows(tmp_path, "conn")
    )
    assert not any(r["endpoint"] == "atsvc" for r in _rows(tmp_path, "dce_rpc"))


def test_clean_background_matches_intrusion_background(
    tmp_path: Path, small: tuple[Path, dict[str, Any]]
) -> None:
    """The clean run is the same enterprise: its rows are a subset of the intrusion run's."""
    out, _ = small
    simulate(tmp_path, seed=11, config=SimConfig(hosts=40, days=1.0, intrusion=False))
    clean = {ln for ln in _lines(tmp_path / "kerberos.log") if not ln.startswith("#")}
    dirty = {ln for ln in _lines(out / "kerberos.log") if not ln.startswith("#")}
    assert clean and clean <= dirty


def test_gzip_output(tmp_path: Path) -> None:
    cfg = SimConfig(hosts=30, days=0.3)
    plain = simulate(tmp_path / "p", seed=1, config=cfg)
    gz = simulate(tmp_path / "g", seed=1, config=SimConfig(hosts=30, days=0.3, gzip=True))
    assert plain["log_rows"] == gz["log_rows"]
    for log_type in LOG_TYPES:
        assert not (tmp_path / "g" / f"{log_type}.log").exists()
        assert (
            gzip.decompress((tmp_path / "g" / f"{log_type}.log.gz").read_bytes())
            == (tmp_path / "p" / f"{log_type}.log").read_bytes()
        )


@pytest.mark.parametrize(
    "bad",
    [
        {"hosts": 10},
        {"days": 0},
        {"beacon_jitter": 1.5},
        {"relay_depth": 3},
        {"n_bridges": 0},
        {"pipe_name": ""},
        {"pipe_name": "a\\b"},
        {"beacon_profile": "dns"},
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, bad: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        simulate(tmp_path, config=SimConfig(**bad))


def test_pipe_name_prefix_is_stripped(tmp_path: Path) -> None:
    truth = simulate(
        tmp_path, seed=1, config=SimConfig(hosts=30, days=0.3, pipe_name="\\\\.\\pipe\\abc")
    )
    assert {e["pipe"] for e in truth["relay_edges"]} == {"abc"}


@pytest.mark.slow
def test_default_run_size(tmp_path: Path) -> None:
    truth = simulate(tmp_path, seed=7)
    assert 100_000 <= truth["log_rows"]["conn"] <= 400_000


def test_blocked_egress_is_logged_as_failed_attempts(tmp_path: Path) -> None:
    """With blocked_egress the no-egress hosts try the internet and their C&C; the sensor logs
    only failed attempts (no byte ever comes back), and each infected no-egress host tries its
    C&C directly before its first relay session."""
    cfg = SimConfig(hosts=40, days=1.0, blocked_egress=True, relay_depth=2)
    truth = simulate(tmp_path, seed=5, config=cfg)
    no_egress = set(truth["no_egress"])
    conn = list(_rows(tmp_path, "conn"))
    out = [r for r in conn if r["id.orig_h"] in no_egress and not r["id.resp_h"].startswith("10.")]
    assert len(out) == truth["blocked_background_attempts"] + sum(
        a["count"] for a in truth["direct_c2_attempts"]
    )
    assert {r["conn_state"] for r in out} <= {"S0", "REJ", "SH", "OTH"}
    assert "S0" in {r["conn_state"] for r in out}
    assert all(r["resp_bytes"] == "0" for r in out)
    assert all(r["orig_bytes"] == "0" for r in out if r["proto"] == "tcp")
    assert {("udp", "53"), ("udp", "123"), ("tcp", "443"), ("tcp", "80")} <= {
        (r["proto"], r["id.resp_p"]) for r in out
    }
    if truth["firewall_rejects_web"]:
        assert "REJ" in {r["conn_state"] for r in out}
    # the implant's direct tries, then the relay
    upstream = {e["src"]: e["dst"] for e in truth["relay_edges"]}
    assert {a["src"] for a in truth["direct_c2_attempts"]} == set(upstream)
    for src, dst in upstream.items():
        tries = [
            float(r["ts"]) for r in out if r["id.orig_h"] == src and r["id.resp_h"] == KNOWN_C2_IP
        ]
        relayed = [
            float(r["ts"])
            for r in conn
            if r["id.orig_h"] == src and r["id.resp_h"] == dst and r["id.resp_p"] == "445"
        ]
        assert tries and relayed and min(tries) < min(relayed)
    # hosts with egress reach the same ordinary destinations (not rare), successfully
    telemetry = {r["id.orig_h"] for r in conn if r["id.resp_h"] == "20.42.65.92"}
    assert len(telemetry - no_egress) > 10


# -- benign look-alikes of lateral movement (off by default) --------------------------------------


def test_lateral_look_alike_options(tmp_path: Path) -> None:
    cfg = SimConfig(hosts=60, days=1.0, user_shares=True, software_push=True, admin_psexec=True)
    truth = simulate(tmp_path, seed=2, config=cfg)
    names = truth["hostnames"]
    swd = next(ip for ip, n in names.items() if n == "SWD01")
    tooling = {a["src"]: a for a in truth["admin_tooling"]}
    assert tooling[swd]["account"] == "CORP\\svc_swdeploy"
    assert {a["account"] for a in truth["admin_tooling"]} >= {"CORP\\adm_jsmith"}
    assert len(truth["admin_tooling"]) == 5  # MGMT01, WS001 (RDP), SWD01, two PsExec admins
    maps = [_unbs(r["path"]) for r in _rows(tmp_path, "smb_mapping")]
    assert any(p.endswith("\\Users$") for p in maps) and any(p.endswith("\\Home$") for p in maps)
    writes = [
        (r["id.orig_h"], _unbs(r["path"]), _unbs(r["name"]))
        for r in _rows(tmp_path, "smb_files")
        if r["action"] == "SMB::FILE_WRITE"
    ]
    assert any(n.rsplit("\\", 1)[-1].startswith("~WRL") for _, p, n in writes if "Users$" in p)
    pushed = {(s, p) for s, p, n in writes if s == swd and n.endswith("PDQDeployRunner-1.exe")}
    assert len(pushed) >= 20 and all(p.endswith("\\ADMIN$") for _, p in pushed)
    assert any(n == "PSEXESVC.exe" for _, _, n in writes)
    ops = [r["operation"] for r in _rows(tmp_path, "dce_rpc") if r["id.orig_h"] == swd]
    assert ops.count("CreateServiceW") == len(pushed)


def test_look_alike_options_default_off() -> None:
    cfg = SimConfig()
    assert (cfg.user_shares, cfg.software_push, cfg.admin_psexec) == (False, False, False)


def test_benign_periodic_services(tmp_path: Path) -> None:
    """More regular than the C&C, some from most hosts, all listed in the ground truth; off by
    default (the default run's telemetry does not change)."""
    cfg = SimConfig(hosts=40, days=1.0, benign_periodic=True, beacon_jitter=0.4)
    truth = simulate(tmp_path / "on", seed=11, config=cfg)
    names = {p["name"] for p in truth["periodic_services"]}
    assert {"licence_heartbeat", "camera_snapshots", "av_manifest", "ups_status"} <= names
    lic = next(p["dst"] for p in truth["periodic_services"] if p["name"] == "licence_heartbeat")
    conn = list(_rows(tmp_path / "on", "conn"))
    lic_srcs = {r["id.orig_h"] for r in conn if r["id.resp_h"] == lic}
    assert len(lic_srcs) >= 0.5 * len(truth["roles"]["workstation"])
    one = sorted(lic_srcs)[0]
    gaps = _intervals(tmp_path / "on", one, lic)
    assert max(gaps) - min(gaps) < 1.0  # +-0.3 s around 900 s
    cams = {r["id.orig_h"] for r in conn if r["id.orig_h"].startswith("10.0.4.")}
    assert len(cams) >= 4
    posts = [r for r in _rows(tmp_path / "on", "http") if r["id.orig_h"] in cams]
    assert posts and all(
        r["method"] == "POST" and r["orig_mime_types"] == "image/jpeg" for r in posts
    )
    c2_gaps = [g for g in _intervals(tmp_path / "on", truth["patient_zero"], KNOWN_C2_IP) if g > 5]
    assert max(c2_gaps) - min(c2_gaps) > 200  # the C&C is far less regular
    simulate(tmp_path / "off", seed=11, config=SimConfig(hosts=40, days=1.0, beacon_jitter=0.4))
    off = {ln for ln in _lines(tmp_path / "off" / "kerberos.log") if not ln.startswith("#")}
    on = {ln for ln in _lines(tmp_path / "on" / "kerberos.log") if not ln.startswith("#")}
    assert off == on  # the rest of the enterprise is the same
    assert lic not in (tmp_path / "off" / "conn.log").read_text()


@pytest.mark.parametrize("profile", ["custom443", "tls_nosni", "proxy", "low_slow"])
def test_beacon_profiles(tmp_path: Path, profile: str) -> None:
    days = 3.0 if profile == "low_slow" else 1.0
    cfg = SimConfig(hosts=40, days=days, beacon_profile=profile, secure_zone_hosts=2)
    truth = simulate(tmp_path, seed=2, config=cfg)
    pz = truth["patient_zero"]
    conn = list(_rows(tmp_path, "conn"))
    http = list(_rows(tmp_path, "http"))
    ssl = list(_rows(tmp_path, "ssl"))
    to_c2 = [r for r in conn if r["id.resp_h"] == KNOWN_C2_IP and r["conn_state"] == "SF"]
    assert to_c2
    if profile == "custom443":
        assert all(r["id.resp_p"] == "443" and r["service"] == "-" for r in to_c2)
        assert not [r for r in (*http, *ssl) if r["id.resp_h"] == KNOWN_C2_IP]
    elif profile == "tls_nosni":
        rows = [r for r in ssl if r["id.resp_h"] == KNOWN_C2_IP]
        assert rows and all(r["server_name"] == "-" for r in rows)
        assert all(r["service"] == "ssl" and r["id.resp_p"] == "443" for r in to_c2)
    elif profile == "proxy":
        proxy = truth["proxy"]
        assert {r["id.orig_h"] for r in to_c2} == {proxy}  # only the proxy reaches the C&C
        direct = [
            r
            for r in conn
            if r["id.orig_h"].startswith("10.")
            and r["id.orig_h"] != proxy
            and not r["id.resp_h"].startswith("10.")
            and r["proto"] == "tcp"
            and r["id.resp_p"] in ("80", "443")
        ]
        assert not direct
        asked = [r for r in http if r["id.orig_h"] == pz and r["id.resp_h"] == proxy]
        assert any(r["uri"] == f"http://{KNOWN_C2_IP}/" for r in asked)
        assert any(r["method"] == "CONNECT" for r in http if r["id.resp_h"] == proxy)
    else:
        gaps = [g for g in _intervals(tmp_path, pz, KNOWN_C2_IP) if g > 5]
        assert 0.85 * 7200 < statistics.median(gaps) < 1.15 * 7200
