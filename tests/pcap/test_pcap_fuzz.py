"""Property tests of the capture conversion (issue #13, "pcap conversion output"): captures
built packet by packet from protocol messages (DNS, HTTP, TLS, SMB2, DCE/RPC, any bytes) with
damaged fields, and the small real captures in tests/data/pcap/zeek mutated and cut short,
go through the real tshark conversion. Whatever the capture:

* ``PcapConverter.convert()`` gives a result or an ``InputError`` naming the capture, nothing
  else;
* every log it writes re-reads cleanly through the Zeek reader: no row skipped, no warning,
  one row per data line, the log type it was written as, and a plan the engines' own
  readers take (a row the reader would skip would be lost in a temporary file the user never
  sees).

``make test`` runs three derandomized examples per test; ``make fuzz`` runs FUZZ_FACTOR times
more with a random seed (tests/testsupport.py). An example costs two tshark runs, about 2.5 s
on a loaded 2-core machine (48 examples in 128 s at DUQHUNT_FUZZ_FACTOR=3 with eight per
test), a hundred times a parser example: hence three, not the dozens of the other harnesses.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from duqhunt.errors import InputError
from duqhunt.sources.net.pcap import PcapConverter, PcapLimits
from duqhunt.sources.net.zeek import ZeekLog
from testsupport import cpu_bounded, fuzz_examples, mutated

pytestmark = pytest.mark.skipif(
    shutil.which("tshark") is None, reason="tshark is not installed (apt-get install tshark)"
)

ZEEK_PCAPS = Path(__file__).resolve().parents[1] / "data" / "pcap" / "zeek"
T0 = 1_318_550_400.0  # 2011-10-14


def fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    # no shrinking: each example costs two tshark runs, and Hypothesis would spend its five
    # minutes on a few bytes; the failing capture is printed as found (small anyway)
    return settings(
        max_examples=fuzz_examples(examples),
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )


# --- building captures ------------------------------------------------------------------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF


def _ipv4(src: int, dst: int, proto: int, payload: bytes) -> bytes:
    head = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        min(20 + len(payload), 0xFFFF),
        0,
        0x4000,
        64,
        proto,
        0,
        bytes([10, 0, 0, src]),
        bytes([192, 0, 2, dst]) if dst else bytes([10, 0, 0, 250]),
    )
    head = head[:10] + struct.pack("!H", _checksum(head)) + head[12:]
    return head + payload


def _frame(ip: bytes) -> bytes:
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip


def _pcap(records: list[tuple[float, bytes]]) -> bytes:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for ts, frame in records:
        sec = int(ts) & 0xFFFFFFFF
        usec = round((ts - int(ts)) * 1e6) % 1_000_000
        out += struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
    return bytes(out)


def _dns_query(name: bytes = b"\x07example\x03com\x00") -> bytes:
    return struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)


def _dns_reply() -> bytes:
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([203, 0, 113, 9])
    return (
        struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0)
        + b"\x07example\x03com\x00"
        + struct.pack("!HH", 1, 1)
        + answer
    )


_HTTP_GET = (
    b"GET /news/index.php?id=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/4.0\r\n"
    b"Cookie: PHPSESSID=abc\r\n\r\n"
)
_HTTP_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 12\r\n\r\n"
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"
)


def _tls_hello() -> bytes:
    sni = b"\x00\x0bexample.com"
    ext = struct.pack("!HH", 0, len(sni) + 2) + struct.pack("!H", len(sni)) + sni
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x04\x00\x2f\xc0\x2f" + b"\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def _smb2_negotiate() -> bytes:
    head = b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ16s", 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, bytes(16))
    body = struct.pack("<HHHHI16sQ", 36, 2, 1, 0, 0, bytes(16), 0) + b"\x02\x02\x10\x02"
    msg = head + body
    return b"\x00" + len(msg).to_bytes(3, "big") + msg


def _dcerpc_bind() -> bytes:
    iface = bytes.fromhex("367abb81 9844 cf11 b5f4 00aa 00a1a0 d8".replace(" ", ""))
    ctx = struct.pack("<HBB", 0, 1, 0) + iface + struct.pack("<HH", 3, 0)
    ctx += bytes.fromhex("045d888aeb1cc9119fe808002b104860") + struct.pack("<I", 2)
    body = struct.pack("<HHI", 4280, 4280, 0) + struct.pack("<BBH", 1, 0, 0) + ctx
    return struct.pack("<BBBB4sHHI", 5, 0, 11, 3, b"\x10\x00\x00\x00", 16 + len(body), 0, 1) + body


# (protocol, server port, transport, the client's message, the server's reply)
MESSAGES = [
    ("dns", 53, "udp", _dns_query(), _dns_reply()),
    ("http", 80, "tcp", _HTTP_GET, _HTTP_OK),
    ("http-odd-port", 8443, "tcp", _HTTP_GET, _HTTP_OK),
    ("tls", 443, "tcp", _tls_hello(), b"\x15\x03\x03\x00\x02\x02\x28"),
    ("smb2", 445, "tcp", _smb2_negotiate(), _smb2_negotiate()),
    ("dcerpc", 135, "tcp", _dcerpc_bind(), b""),
]


def _packet(
    hosts: tuple[int, int],
    ports: tuple[int, int],
    a2b: bool,
    payload: bytes,
    tcp: tuple[int, int, int] | None = None,
) -> bytes:
    """One Ethernet frame between client ``hosts[0]`` and server ``hosts[1]``, client to
    server when ``a2b``; TCP with (seq, ack, flags), else UDP."""
    sp, dp = ports if a2b else ports[::-1]
    if tcp is None:
        seg = struct.pack("!HHHH", sp, dp, min(8 + len(payload), 0xFFFF), 0) + payload
    else:
        seq, ack, flags = tcp[0] & 0xFFFFFFFF, tcp[1] & 0xFFFFFFFF, tcp[2]  # they wrap
        seg = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 0x50, flags, 65535, 0, 0) + payload
    ip = _ipv4(hosts[0], hosts[1], 17 if tcp is None else 6, seg)
    if not a2b:  # the reply comes back: addresses the other way round
        ip = ip[:12] + ip[16:20] + ip[12:16] + ip[20:]
    return _frame(ip)


@st.composite
def flows(draw: st.DrawFn) -> bytes:
    """A capture of a few connections, each a handshake (maybe), a request, a reply (maybe)
    and a close (maybe); the messages damaged, the times mostly plausible, sometimes not."""
    frames: list[bytes] = []
    for n in range(draw(st.integers(1, 5))):
        _name, port, transport, ask, answer = draw(st.sampled_from(MESSAGES))
        ask = draw(mutated(ask, hot=24) | st.just(ask))
        answer = draw(mutated(answer, hot=24) | st.just(answer)) if answer else answer
        hosts = (draw(st.integers(1, 200)), draw(st.integers(0, 3)))
        ports = (40_000 + n, draw(st.sampled_from([port, port, draw(st.integers(0, 65535))])))
        if transport == "udp":
            frames.append(_packet(hosts, ports, True, ask))
            if answer:
                frames.append(_packet(hosts, ports, False, answer))
            continue
        c, s = draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1))
        if draw(st.booleans()):
            frames.append(_packet(hosts, ports, True, b"", (c, 0, 0x02)))
            frames.append(_packet(hosts, ports, False, b"", (s, c + 1, 0x12)))
            frames.append(_packet(hosts, ports, True, b"", (c + 1, s + 1, 0x10)))
        frames.append(_packet(hosts, ports, True, ask, (c + 1, s + 1, 0x18)))
        if answer:
            frames.append(_packet(hosts, ports, False, answer, (s + 1, c + 1 + len(ask), 0x18)))
        if draw(st.booleans()):
            end = draw(st.sampled_from([0x11, 0x04]))  # FIN or RST
            frames.append(_packet(hosts, ports, True, b"", (c + 1 + len(ask), s + 1, end)))
    t = T0 + draw(st.floats(0, 86_400, allow_nan=False))
    times = []
    for _ in frames:
        t += draw(st.sampled_from([0.0, 0.001, 0.2, 5.0]))
        times.append(t)
    if draw(st.integers(0, 5)) == 0:  # a time no sensor clock gives
        times[draw(st.integers(0, len(times) - 1))] = draw(
            st.sampled_from([0.0, 1.0, 4_294_967_295.0])
        )
    return _pcap(list(zip(times, frames, strict=True)))


SEEDS = [
    (ZEEK_PCAPS / name).read_bytes()
    for name in (
        "dns53.pcap",
        "http-single-conn-22.pcap",
        "dce_rpc_ntlm.pcapng",
        "ntlm-empty-av-sequence.pcap",
        "dhe.pcap",
        "auth.pcap",
    )
]


# --- the property ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pcap-fuzz")


@pytest.fixture(scope="module")
def tshark() -> str:
    found = shutil.which("tshark")
    assert found
    return found


def _data_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip(b"\r\n") and not line.startswith(b"#"))


def converts_and_rereads(work: Path, tshark: str, data: bytes) -> None:
    cap = work / "fuzz.pcap"
    cap.write_bytes(data)
    out = work / "logs"
    shutil.rmtree(out, ignore_errors=True)
    try:
        with cpu_bounded(60):  # the Python side; tshark's own time is its timeout's
            res = PcapConverter(cap, tshark, out, PcapLimits(timeout_s=300)).convert()
    except InputError as exc:
        assert exc.path == str(cap), exc
        return
    assert res.packets >= 0 and all(isinstance(w, str) for w in res.warnings)
    for log_type, log in res.logs.items():
        zlog = ZeekLog(log)
        table = zlog.read_table()
        stats = zlog.stats
        assert zlog.log_type == log_type
        assert stats.skipped_rows == 0 and not stats.all_warnings(), stats.all_warnings()
        assert table.num_rows == stats.rows == _data_lines(log), (log_type, stats.rows)
        assert zlog.tsv_plan() is not None, log_type


@fuzz(3)
@given(flows())
def test_generated_captures(work: Path, tshark: str, data: bytes) -> None:
    converts_and_rereads(work, tshark, data)


@fuzz(3)
@given(st.sampled_from(SEEDS).flatmap(lambda s: mutated(s, hot=64)))
def test_mutated_real_captures(work: Path, tshark: str, data: bytes) -> None:
    converts_and_rereads(work, tshark, data)


# --- what the fuzzer found ------------------------------------------------------------------


def _udp_dns_capture(times: list[float]) -> bytes:
    """DNS queries and replies at ``times`` (a query, then its reply, in turn)."""
    frames = [
        _packet((1, 0), (40_000 + i // 2, 53), i % 2 == 0, _dns_reply() if i % 2 else _dns_query())
        for i in range(len(times))
    ]
    return _pcap(list(zip(times, frames, strict=True)))


def test_packets_stamped_outside_the_plausible_span(tmp_path: Path, tshark: str) -> None:
    """Found by this fuzzer: a packet stamped 1970 (time 0, a damaged record header) became a
    conn and a dns row the Zeek reader then skipped on ingest, with a warning naming a
    temporary log the user never sees. The conversion now keeps those rows out, says so
    naming the capture, and the capture is partly analysed."""
    cap = tmp_path / "clock.pcap"
    cap.write_bytes(_udp_dns_capture([0.0, 0.001, T0, T0 + 0.01, 4_294_967_295.0, T0 + 1]))
    res = PcapConverter(cap, tshark, tmp_path / "logs").convert()
    assert not res.complete
    bad = [w for w in res.warnings if "outside the plausible span" in w]
    assert len(bad) == 2 and all(w.startswith(f"{cap}: ") for w in bad), res.warnings
    # the third exchange's query is stamped 2106, its reply is not: the conn starts then
    assert any(w.startswith(f"{cap}: 1 conn row(s) not kept: column ts: time 0.0") for w in bad)
    assert any(w.startswith(f"{cap}: 2 dns row(s) not kept") for w in bad), bad
    converts_and_rereads(tmp_path, tshark, cap.read_bytes())

    from duqhunt.hunt import HuntOptions, hunt

    doc = hunt(HuntOptions(inputs=(cap,), out=tmp_path / "out", threads=2))
    assert [i.status for i in doc.inputs] == ["partial"]
    assert doc.stats["rows_dns"] == 1 and doc.stats["rows_conn"] == 2
    assert all(str(tmp_path / "logs") not in w and ".pcap-" not in w for w in doc.warnings)


def test_the_application_packet_limit_is_said(tmp_path: Path, tshark: str) -> None:
    """Past PcapLimits.max_app_rows the application rows used to stop without a word."""
    cap = tmp_path / "dns.pcap"
    cap.write_bytes(_udp_dns_capture([T0, T0 + 0.01, T0 + 1, T0 + 1.01, T0 + 2, T0 + 2.01]))
    whole = PcapConverter(cap, tshark, tmp_path / "a").convert()
    assert whole.complete and not whole.warnings
    cut = PcapConverter(cap, tshark, tmp_path / "b", PcapLimits(max_app_rows=2)).convert()
    assert not cut.complete
    assert cut.warnings == [
        f"{cap}: more than 2 application-layer packets; the rest are in conn only "
        "(no dns, http, ssl, smb... rows)"
    ]
    assert _data_lines(cut.logs["conn"]) == 3 and _data_lines(cut.logs["dns"]) < 3


def test_reader_warnings_of_a_decoded_log_name_the_capture(tmp_path: Path, tshark: str) -> None:
    """Rows the Zeek reader skips in a log decoded from a capture (here: times the converter
    was told to keep) are reported under the capture's name, never the temporary log's."""
    from duqhunt.store import CaseStore

    cap = tmp_path / "clock.pcap"
    cap.write_bytes(_udp_dns_capture([0.0, 0.001, T0, T0 + 0.01]))
    with CaseStore(tmp_path / "case.duckdb") as store:
        res = store.ingest_pcap(cap, tshark, pcap_limits=PcapLimits(drop_implausible_times=False))
    assert res.skipped_rows >= 1 and res.status == "partial"
    skipped = [w for w in res.warnings if "plausible" in w]
    assert skipped and all(w.startswith(f"{cap} (") for w in skipped), res.warnings
    assert all(".pcap-" not in w for w in res.warnings), res.warnings
