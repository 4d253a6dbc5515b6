"""Synthetic Zeek TSV conn.log for the benchmarks, built column by column with pyarrow.compute.

The log looks like what a Zeek sensor at the edge of a ~2,000 host network writes over a week:
about 2,000 internal 10.x hosts, about 50,000 external addresses with heavy-tailed popularity,
mostly outbound HTTPS/HTTP/DNS with some internal SMB/LDAP/Kerberos and a little inbound
scanning, ``-`` where Zeek leaves a field unset (service, and duration/bytes of connections
that never got an answer), ``(empty)`` tunnel_parents, and a few hundred planted periodic
internal -> external pairs (beacons with jitter) so the beacon detector has real work.

Nothing here loops over rows in Python: each time slice of the week (about a million rows) is
drawn as whole Arrow arrays, formatted as strings where Zeek's text form needs it (times with
six decimals) and streamed with ``pyarrow.csv.CSVWriter`` between the header and ``#close``.
Output is deterministic for a given row count and seed.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from duqhunt.sources.net.zeek_schema import LOGS

FORMAT_VERSION = 1  # bump when the generated data changes, so cached logs are rebuilt
FIELDS = [name for name, _ in LOGS["conn"]]
TYPES = [ztype for _, ztype in LOGS["conn"]]
EXPECTED = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
    "ip_proto",
]

START = 1_700_006_400  # 2023-11-15 00:00:00 UTC
DAYS = 7
SLICE_ROWS = 1_000_000
N_INTERNAL = 2_000
N_EXTERNAL = 50_000
_US = 1_000_000

# (weight, resp port, proto, service, median orig bytes, median resp bytes)
_OUTBOUND = [
    (0.40, 443, "tcp", "ssl", 1_200, 9_000),
    (0.12, 80, "tcp", "http", 600, 14_000),
    (0.18, 53, "udp", "dns", 40, 120),
    (0.03, 123, "udp", "ntp", 48, 48),
    (0.02, 8080, "tcp", "http", 700, 6_000),
    (0.01, 25, "tcp", "smtp", 4_000, 600),
    (0.01, 22, "tcp", "ssh", 3_000, 4_000),
    (0.05, 443, "udp", None, 2_000, 20_000),
    (0.06, 0, "tcp", None, 300, 900),  # 0: a random high port
    (0.02, 0, "icmp", None, 64, 64),
]
_INTERNAL = [
    (0.35, 445, "tcp", "smb", 2_500, 6_000),
    (0.20, 389, "tcp", "ldap", 400, 1_500),
    (0.15, 88, "tcp", "krb_tcp", 1_400, 1_300),
    (0.10, 135, "tcp", "dce_rpc", 200, 150),
    (0.05, 3389, "tcp", None, 20_000, 200_000),
    (0.15, 53, "udp", "dns", 40, 120),
]
_PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1}
# (weight, conn_state, history, answered) per protocol
_STATES = {
    "tcp": [
        (0.74, "SF", "ShADadFf", True),
        (0.09, "S0", "S", False),
        (0.05, "REJ", "Sr", True),
        (0.04, "RSTO", "ShADadR", True),
        (0.03, "RSTR", "ShADadr", True),
        (0.02, "S1", "ShAD", True),
        (0.02, "SH", "ShAF", True),
        (0.01, "OTH", "CC", True),
    ],
    "udp": [(0.62, "SF", "Dd", True), (0.33, "S0", "D", False), (0.05, "SHR", "d", True)],
    "icmp": [(0.8, "OTH", None, True), (0.2, "OTH", None, False)],
}
_UID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Plan:
    rows: int
    planted_pairs: int
    planted_rows: int


class _Rng:
    """Independent reproducible uniform [0, 1) streams from pyarrow's random kernel."""

    def __init__(self, seed: int) -> None:
        self._next = itertools.count(seed * 1_000_003)

    def uniform(self, n: int) -> pa.Array:
        return pc.random(n, initializer=next(self._next))

    def ints(self, n: int, lo: int, hi: int) -> pa.Array:
        """Uniform integers in [lo, hi)."""
        return _floor_int(pc.add(pc.multiply(self.uniform(n), hi - lo), lo))

    def normal(self, n: int) -> pa.Array:
        u1 = pc.subtract(1.0, self.uniform(n))  # (0, 1]
        u2 = self.uniform(n)
        return pc.multiply(
            pc.sqrt(pc.multiply(pc.ln(u1), -2.0)), pc.cos(pc.multiply(u2, 2 * math.pi))
        )

    def lognormal(self, n: int, median: pa.Array | float, sigma: float) -> pa.Array:
        return pc.multiply(pc.exp(pc.multiply(self.normal(n), sigma)), median)

    def skewed_index(self, n: int, size: int, power: float) -> pa.Array:
        """Indices in [0, size) with P(index < x) = (x / size) ** (1 / power): heavy-tailed."""
        return _floor_int(pc.multiply(pc.power(self.uniform(n), power), size))

    def choice(self, n: int, weights: list[float]) -> pa.Array:
        """Indices into ``weights`` drawn with those (relative) weights."""
        total = sum(weights)
        u = pc.multiply(self.uniform(n), total)
        idx = pa.array([0] * n, pa.int64()) if n else pa.array([], pa.int64())
        acc = 0.0
        for w in weights[:-1]:
            acc += w
            idx = pc.add(idx, pc.cast(pc.greater_equal(u, acc), pa.int64()))
        return idx


def _floor_int(arr: pa.Array) -> pa.Array:
    return pc.cast(pc.floor(arr), pa.int64())


def _addresses(seed: int) -> tuple[list[str], list[str], list[str]]:
    """Internal hosts, external addresses (most popular first after a shuffle), C&C addresses."""
    r = random.Random(seed)
    internal = sorted(
        {
            f"10.{r.randrange(0, 8)}.{r.randrange(0, 256)}.{r.randrange(2, 255)}"
            for _ in range(3 * N_INTERNAL)
        }
    )
    r.shuffle(internal)
    internal = internal[:N_INTERNAL]
    reserved = (0, 10, 100, 127, 169, 172, 192, 198, 203, 224)
    external: set[str] = set()
    while len(external) < N_EXTERNAL + 1_000:
        a = r.randrange(1, 224)
        if a in reserved:
            continue
        external.add(f"{a}.{r.randrange(0, 256)}.{r.randrange(0, 256)}.{r.randrange(1, 255)}")
    ext = sorted(external)
    r.shuffle(ext)
    return internal, ext[:N_EXTERNAL], ext[N_EXTERNAL:]


def plan_for(rows: int) -> Plan:
    pairs = max(10, min(300, rows // 2_000))
    planted = min(rows // 50, pairs * 2_000)  # about 2 % of the log
    return Plan(rows, pairs, planted)


_SPEC = pa.schema(
    [
        ("ts_us", pa.int64()),
        ("src", pa.string()),
        ("orig_p", pa.int64()),
        ("dst", pa.string()),
        ("resp_p", pa.int64()),
        ("proto", pa.string()),
        ("service", pa.string()),
        ("dur_us", pa.int64()),
        ("orig_bytes", pa.int64()),
        ("resp_bytes", pa.int64()),
        ("conn_state", pa.string()),
        ("local_orig", pa.string()),
        ("local_resp", pa.string()),
        ("history", pa.string()),
        ("orig_pkts", pa.int64()),
        ("resp_pkts", pa.int64()),
    ]
)


def _background(
    rng: _Rng, n: int, t0_us: int, t1_us: int, addrs: tuple[list[str], list[str]]
) -> pa.Table:
    internal = pa.array(addrs[0], pa.string())
    external = pa.array(addrs[1], pa.string())
    ts = rng.ints(n, t0_us, t1_us)
    # direction: 0 internal -> external, 1 internal -> internal, 2 external -> internal (scans)
    direction = rng.choice(n, [0.80, 0.15, 0.05])
    is_int = pc.equal(direction, 1)
    is_in = pc.equal(direction, 2)
    profiles = _OUTBOUND + _INTERNAL
    prof = pc.if_else(
        is_int,
        pc.add(rng.choice(n, [p[0] for p in _INTERNAL]), len(_OUTBOUND)),
        rng.choice(n, [p[0] for p in _OUTBOUND]),
    )
    # inbound connections are scans of a few ports
    scan_ports = pa.array([22, 23, 445, 3389, 80, 443, 8080, 5900], pa.int64())
    port = pc.take(pa.array([p[1] for p in profiles], pa.int64()), prof)
    high = rng.ints(n, 1_024, 65_535)
    port = pc.if_else(pc.equal(port, 0), high, port)
    port = pc.if_else(is_in, pc.take(scan_ports, rng.ints(n, 0, len(scan_ports))), port)
    proto = pc.take(pa.array([p[2] for p in profiles], pa.string()), prof)
    proto = pc.if_else(is_in, "tcp", proto)
    service = pc.take(pa.array([p[3] for p in profiles], pa.string()), prof)
    service = pc.if_else(is_in, pa.scalar(None, pa.string()), service)
    is_icmp = pc.equal(proto, "icmp")
    port = pc.if_else(is_icmp, 0, port)

    src_int = pc.take(internal, rng.skewed_index(n, N_INTERNAL, 2.0))
    dst_int = pc.take(internal, rng.skewed_index(n, N_INTERNAL, 6.0))  # a few busy servers
    ext = pc.take(external, rng.skewed_index(n, N_EXTERNAL, 4.0))
    src = pc.if_else(is_in, ext, src_int)
    dst = pc.if_else(is_int, dst_int, pc.if_else(is_in, src_int, ext))
    orig_p = pc.if_else(is_icmp, 8, rng.ints(n, 32_768, 61_000))

    med_o = pc.take(pa.array([float(p[4]) for p in profiles]), prof)
    med_r = pc.take(pa.array([float(p[5]) for p in profiles]), prof)
    state, history, answered = _states(rng, proto, is_in)
    return _finish(
        rng,
        n,
        ts,
        src,
        orig_p,
        dst,
        port,
        proto,
        service,
        state,
        history,
        answered,
        med_o,
        med_r,
        pc.invert(is_in),
        pc.or_(is_int, is_in),
    )


def _states(rng: _Rng, proto: pa.Array, force_s0: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    n = len(proto)
    state = pa.array([None] * n, pa.string())
    history = pa.array([None] * n, pa.string())
    answered = pa.array([True] * n, pa.bool_())
    for pname, table in _STATES.items():
        idx = rng.choice(n, [t[0] for t in table])
        mask = pc.equal(proto, pname)
        state = pc.if_else(mask, pc.take(pa.array([t[1] for t in table], pa.string()), idx), state)
        history = pc.if_else(
            mask, pc.take(pa.array([t[2] for t in table], pa.string()), idx), history
        )
        answered = pc.if_else(mask, pc.take(pa.array([t[3] for t in table]), idx), answered)
    # most inbound scans are never answered
    scan_s0 = pc.and_(force_s0, pc.less(rng.uniform(n), 0.7))
    state = pc.if_else(scan_s0, "S0", state)
    history = pc.if_else(scan_s0, "S", history)
    answered = pc.if_else(scan_s0, False, answered)
    return state, history, answered


def _finish(
    rng: _Rng,
    n: int,
    ts: pa.Array,
    src: pa.Array,
    orig_p: pa.Array,
    dst: pa.Array,
    port: pa.Array,
    proto: pa.Array,
    service: pa.Array,
    state: pa.Array,
    history: pa.Array,
    answered: pa.Array,
    med_o: pa.Array,
    med_r: pa.Array,
    local_orig: pa.Array,
    local_resp: pa.Array,
) -> pa.Table:
    unset = pa.scalar(None, pa.int64())
    dur = _floor_int(rng.lognormal(n, 400_000.0, 2.0))
    orig_b = _floor_int(rng.lognormal(n, med_o, 1.0))
    resp_b = _floor_int(rng.lognormal(n, med_r, 1.5))
    resp_b = pc.if_else(pc.is_in(state, pa.array(["REJ", "S0"])), 0, resp_b)
    orig_pkts = pc.add(pc.divide(orig_b, 1_200), rng.ints(n, 1, 4))
    resp_pkts = pc.if_else(answered, pc.add(pc.divide(resp_b, 1_400), rng.ints(n, 1, 4)), 0)
    # Zeek leaves duration and byte counts unset for a connection with no answer
    dur = pc.if_else(answered, dur, unset)
    orig_b = pc.if_else(answered, orig_b, unset)
    resp_b = pc.if_else(answered, resp_b, unset)
    tf = pa.array(["F", "T"], pa.string())
    return pa.Table.from_arrays(
        [
            ts,
            src,
            orig_p,
            dst,
            port,
            proto,
            service,
            dur,
            orig_b,
            resp_b,
            state,
            pc.take(tf, pc.cast(local_orig, pa.int64())),
            pc.take(tf, pc.cast(local_resp, pa.int64())),
            history,
            orig_pkts,
            resp_pkts,
        ],
        schema=_SPEC,
    )


def _planted(rng: _Rng, plan: Plan, internal: list[str], c2: list[str]) -> pa.Table:
    """Periodic internal -> external pairs: fixed port and size, interval with +-15 % jitter."""
    r = random.Random(plan.rows)
    per_pair = max(10, plan.planted_rows // plan.planted_pairs)
    window = DAYS * 86_400
    parts_ts: list[pa.Array] = []
    src: list[str] = []
    dst: list[str] = []
    port: list[int] = []
    size: list[float] = []
    counts: list[int] = []
    for i in range(plan.planted_pairs):
        period = math.exp(r.uniform(math.log(60), math.log(3_600)))
        count = min(per_pair, int(window / period) - 1)
        span = count * period
        start = START + r.uniform(0, window - span)
        k = pa.array(range(count), pa.float64())
        jitter = pc.multiply(pc.subtract(rng.uniform(count), 0.5), 0.3 * period)
        t = pc.add(pc.add(pc.multiply(k, period), jitter), start)
        t = pc.min_element_wise(pc.max_element_wise(t, float(START)), float(START + window - 1))
        parts_ts.append(_floor_int(pc.multiply(t, _US)))
        src.append(r.choice(internal))
        dst.append(c2[i % len(c2)])
        port.append(r.choice((80, 443, 443, 8443)))
        size.append(float(r.choice((180, 240, 512, 1_100))))
        counts.append(count)
    n = sum(counts)
    pair = pa.array(
        list(itertools.chain.from_iterable([i] * c for i, c in enumerate(counts))), pa.int64()
    )
    ts = pa.concat_arrays(parts_ts)
    resp_p = pc.take(pa.array(port, pa.int64()), pair)
    service = pc.if_else(pc.equal(resp_p, 80), "http", "ssl")
    proto = pa.array(["tcp"] * n, pa.string())
    state, history, answered = _states(rng, proto, pa.array([False] * n))
    state = pc.if_else(answered, "SF", state)
    history = pc.if_else(answered, "ShADadFf", history)
    med_o = pc.take(pa.array(size), pair)
    table = _finish(
        rng,
        n,
        ts,
        pc.take(pa.array(src, pa.string()), pair),
        rng.ints(n, 32_768, 61_000),
        pc.take(pa.array(dst, pa.string()), pair),
        resp_p,
        proto,
        service,
        state,
        history,
        answered,
        med_o,
        pa.array([400.0] * n),
        pa.array([True] * n),
        pa.array([False] * n),
    )
    # beacons keep their size: replace the drawn byte counts by a near-constant one
    orig_b = _floor_int(pc.add(med_o, rng.ints(n, 0, 8)))
    orig_b = pc.if_else(answered, orig_b, pa.scalar(None, pa.int64()))
    table = table.set_column(table.schema.get_field_index("orig_bytes"), "orig_bytes", orig_b)
    return table.sort_by("ts_us")


def _uids(rng: _Rng, n: int, alphabet: pa.Array) -> pa.Array:
    """Zeek-looking connection uids: 'C' and 17 base62 characters."""
    pieces = [pc.take(alphabet, rng.ints(n, 0, len(alphabet))) for _ in range(5)]
    tail = pc.utf8_slice_codeunits(pc.take(alphabet, rng.ints(n, 0, len(alphabet))), 0, 2)
    return pc.binary_join_element_wise("C", *pieces, tail, "")


def _fixed6(us: pa.Array) -> pa.Array:
    """Integer microseconds -> '123.456789' (Zeek's six decimals); null stays null."""
    secs = pc.cast(pc.divide(us, _US), pa.string())
    frac = pc.utf8_lpad(
        pc.cast(pc.subtract(us, pc.multiply(pc.divide(us, _US), _US)), pa.string()), 6, padding="0"
    )
    return pc.binary_join_element_wise(secs, frac, ".")


def _to_zeek(spec: pa.Table, rng: _Rng, alphabet: pa.Array) -> pa.Table:
    n = spec.num_rows
    proto = spec.column("proto")
    ip_hdr = pc.if_else(pc.equal(proto, "udp"), 28, pc.if_else(pc.equal(proto, "icmp"), 28, 52))
    orig_pkts = spec.column("orig_pkts")
    resp_pkts = spec.column("resp_pkts")
    orig_ip = pc.add(pc.fill_null(spec.column("orig_bytes"), 0), pc.multiply(orig_pkts, ip_hdr))
    resp_ip = pc.add(pc.fill_null(spec.column("resp_bytes"), 0), pc.multiply(resp_pkts, ip_hdr))
    ip_proto = pc.take(
        pa.array([6, 17, 1], pa.int64()), pc.index_in(proto, pa.array(["tcp", "udp", "icmp"]))
    )
    cols = [
        _fixed6(spec.column("ts_us")),
        _uids(rng, n, alphabet),
        spec.column("src"),
        spec.column("orig_p"),
        spec.column("dst"),
        spec.column("resp_p"),
        proto,
        spec.column("service"),
        _fixed6(spec.column("dur_us")),
        spec.column("orig_bytes"),
        spec.column("resp_bytes"),
        spec.column("conn_state"),
        spec.column("local_orig"),
        spec.column("local_resp"),
        pa.array([0] * n, pa.int64()),
        spec.column("history"),
        orig_pkts,
        orig_ip,
        resp_pkts,
        resp_ip,
        pa.array(["(empty)"] * n, pa.string()),
        ip_proto,
    ]
    return pa.Table.from_arrays(cols, names=FIELDS)


def header(opened: datetime) -> bytes:
    lines = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        "#open\t" + opened.strftime("%Y-%m-%d-%H-%M-%S"),
        "#fields\t" + "\t".join(FIELDS),
        "#types\t" + "\t".join(TYPES),
    ]
    return ("\n".join(lines) + "\n").encode()


def _slices(plan: Plan, planted: pa.Table) -> Iterator[tuple[int, int, int, pa.Table]]:
    """(background rows, start us, end us, planted rows in the slice) per time slice."""
    background = plan.rows - planted.num_rows
    k = max(1, math.ceil(background / SLICE_ROWS))
    t0 = START * _US
    span = DAYS * 86_400 * _US
    ts = planted.column("ts_us")
    done = 0
    for i in range(k):
        a = t0 + span * i // k
        b = t0 + span * (i + 1) // k
        n = background * (i + 1) // k - done
        done += n
        mask = pc.and_(pc.greater_equal(ts, a), pc.less(ts, b))
        yield n, a, b, planted.filter(mask)


def generate(
    path: Path, rows: int, seed: int = 7, progress: Callable[[int], None] | None = None
) -> Plan:
    """Write a conn.log of exactly ``rows`` rows to ``path`` (via a temporary file)."""
    if FIELDS != EXPECTED:
        raise RuntimeError(f"conn schema changed: {FIELDS}")
    plan = plan_for(rows)
    internal, external, c2 = _addresses(seed)
    rng = _Rng(seed)
    planted = _planted(rng, plan, internal, c2)
    plan = Plan(rows, plan.planted_pairs, planted.num_rows)
    alphabet = pa.array(
        ["".join(t) for t in itertools.product(_UID_ALPHABET, repeat=3)], pa.string()
    )
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = pacsv.WriteOptions(
        include_header=False,
        delimiter="\t",
        quoting_style="none",
        null_string="-",
        batch_size=1 << 16,
    )
    written = 0
    try:
        with pa.OSFile(str(tmp), "wb") as sink:
            sink.write(header(datetime.fromtimestamp(START, UTC)))
            writer: pacsv.CSVWriter | None = None
            for n_bg, a, b, plant in _slices(plan, planted):
                spec = pa.concat_tables([_background(rng, n_bg, a, b, (internal, external)), plant])
                spec = spec.sort_by("ts_us")
                table = _to_zeek(spec, rng, alphabet)
                if writer is None:
                    writer = pacsv.CSVWriter(sink, table.schema, write_options=opts)
                writer.write_table(table)
                written += table.num_rows
                if progress:
                    progress(written)
            if writer is not None:
                writer.close()
            closed = datetime.fromtimestamp(START + DAYS * 86_400, UTC)
            sink.write(("#close\t" + closed.strftime("%Y-%m-%d-%H-%M-%S") + "\n").encode())
        if written != rows:
            raise RuntimeError(f"generated {written} rows, wanted {rows}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return plan


def cached_log(
    work: Path, rows: int, progress: Callable[[int], None] | None = None
) -> tuple[Path, bool]:
    """The cached conn.log for ``rows`` rows under ``work``, generating it if needed."""
    path = work / f"conn-{rows}-v{FORMAT_VERSION}" / "conn.log"
    if path.exists():
        return path, False
    generate(path, rows, progress=progress)
    return path, True
