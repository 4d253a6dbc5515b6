"""Row builders for the simulator: one method per Zeek log, rows keyed by Zeek (dotted) names.

Rows only carry the fields the simulator knows; the writer renders missing keys as unset.
Connection ids (``uid``/``fuid``) come from their own seeded generator, so they are
deterministic for a seed and independent of how much traffic a generator produced.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SIM_LOGS", "Conn", "Emitter", "Row", "is_internal"]

from duqhunt.sources.net.zeek_schema import ANALYSED_LOGS

Row = dict[str, object]

# The logs the simulator writes, in the order it writes them: every log the detectors read but
# DHCP (the simulated enterprise's hosts keep their addresses for the whole window).
SIM_LOGS: tuple[str, ...] = tuple(t for t in ANALYSED_LOGS if t != "dhcp")

_ID_FIX = bytes.maketrans(b"+/", b"xz")
_STATUS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    404: "Not Found",
}
_QTYPE = {1: "A", 12: "PTR", 28: "AAAA", 33: "SRV"}
_RCODE = {0: "NOERROR", 3: "NXDOMAIN"}
_IP_PROTO = {"tcp": 6, "udp": 17, "icmp": 1}
_HDR = {"tcp": 52, "udp": 28, "icmp": 28}


def is_internal(ip: str) -> bool:
    """True for the simulated enterprise (10.0.0.0/8)."""
    return ip.startswith("10.")


@dataclass(frozen=True, slots=True)
class Conn:
    """A connection already written to conn.log; other logs hang their rows off it."""

    uid: str
    src: str
    sport: int
    dst: str
    dport: int
    # the proxy's own connection to the destination when ``src`` went through a web proxy
    upstream: Conn | None = None

    def base(self, ts: float) -> Row:
        return {
            "ts": ts,
            "uid": self.uid,
            "id.orig_h": self.src,
            "id.orig_p": self.sport,
            "id.resp_h": self.dst,
            "id.resp_p": self.dport,
        }


class Emitter:
    """Collects rows per log. Not thread-safe; one per simulation."""

    __slots__ = ("_connected", "_ids", "log_pipe_names", "proxy", "rows")

    def __init__(
        self, id_rng: random.Random, *, log_pipe_names: bool, proxy: str | None = None
    ) -> None:
        self._ids = id_rng
        self.log_pipe_names = log_pipe_names
        # An explicit web proxy (ip): internal hosts reach external 80/443 only through it, as
        # host -> proxy:8080 (absolute-URI requests, CONNECT for TLS) plus proxy -> destination.
        self.proxy = proxy
        self._connected: set[str] = set()  # proxied conns that already carry their CONNECT
        self.rows: dict[str, list[Row]] = {name: [] for name in SIM_LOGS}

    # -- identifiers -------------------------------------------------------------------------
    def ident(self, prefix: str) -> str:
        raw = base64.b64encode(self._ids.randbytes(13)).translate(_ID_FIX)
        return prefix + raw[:17].decode("ascii")

    def hexdigest(self, nbytes: int) -> str:
        return self._ids.randbytes(nbytes).hex()

    def sport(self) -> int:
        return 49152 + int(self._ids.random() * 16383)

    # -- conn ----------------------------------------------------------------------------------
    def conn(
        self,
        ts: float,
        src: str,
        dst: str,
        dport: int,
        *,
        proto: str = "tcp",
        service: str | None = None,
        duration: float | None = None,
        ob: int = 0,
        rb: int = 0,
        state: str = "SF",
        history: str | None = None,
        sport: int | None = None,
    ) -> Conn:
        proxied = (
            self.proxy is not None
            and proto == "tcp"
            and dport in (80, 443)
            and is_internal(src)
            and not is_internal(dst)
            and src != self.proxy
        )
        if not proxied:
            return self._conn(
                ts,
                src,
                dst,
                dport,
                proto=proto,
                service=service,
                duration=duration,
                ob=ob,
                rb=rb,
                state=state,
                history=history,
                sport=sport,
            )
        assert self.proxy is not None
        # the client's leg to the proxy always completes (the proxy answers 502 when the
        # destination does not), then the proxy's own connection to the destination
        extra = 120 if dport == 443 else 60  # CONNECT line / absolute URI
        client = self._conn(
            ts,
            src,
            self.proxy,
            8080,
            service="http",
            duration=(duration or 0.0) + 0.01,
            ob=ob + extra if state == "SF" else 180,
            rb=rb + 40 if state == "SF" else 160,
        )
        up = self._conn(
            ts + 0.004,
            self.proxy,
            dst,
            dport,
            proto=proto,
            service=service,
            duration=duration,
            ob=ob,
            rb=rb,
            state=state,
            history=history,
        )
        return Conn(client.uid, client.src, client.sport, client.dst, client.dport, up)

    def _conn(
        self,
        ts: float,
        src: str,
        dst: str,
        dport: int,
        *,
        proto: str = "tcp",
        service: str | None = None,
        duration: float | None = None,
        ob: int = 0,
        rb: int = 0,
        state: str = "SF",
        history: str | None = None,
        sport: int | None = None,
    ) -> Conn:
        c = Conn(self.ident("C"), src, self.sport() if sport is None else sport, dst, dport)
        hdr = _HDR[proto]
        orig_bytes: int | None = ob
        resp_bytes: int | None = rb
        if state == "S0":
            op, rp = 1, 0
            orig_bytes = resp_bytes = None
            duration = None
            oib, rib = hdr, 0
            history = history or "S"
        elif state == "REJ":
            op, rp = 1, 1
            orig_bytes = resp_bytes = 0
            oib, rib = hdr, 40
            history = history or "Sr"
        elif proto == "tcp":
            op = 3 + (ob + 1447) // 1448
            rp = 2 + (rb + 1447) // 1448
            oib, rib = ob + hdr * op, rb + hdr * rp
            history = history or "ShADadFf"
        else:
            op = 1 + ob // 1472
            rp = (1 + rb // 1472) if rb else 0
            oib, rib = ob + hdr * op, rb + hdr * rp
            history = history or ("Dd" if rb else "D")
        self.rows["conn"].append(
            {
                "ts": ts,
                "uid": c.uid,
                "id.orig_h": src,
                "id.orig_p": c.sport,
                "id.resp_h": dst,
                "id.resp_p": dport,
                "proto": proto,
                "service": service,
                "duration": duration,
                "orig_bytes": orig_bytes,
                "resp_bytes": resp_bytes,
                "conn_state": state,
                "local_orig": src.startswith("10."),
                "local_resp": dst.startswith("10."),
                "missed_bytes": 0,
                "history": history,
                "orig_pkts": op,
                "orig_ip_bytes": oib,
                "resp_pkts": rp,
                "resp_ip_bytes": rib,
                "ip_proto": _IP_PROTO[proto],
            }
        )
        return c

    def attempt(
        self,
        ts: float,
        src: str,
        dst: str,
        dport: int,
        *,
        state: str,
        history: str,
        proto: str = "tcp",
        orig_pkts: int = 1,
        resp_pkts: int = 0,
        duration: float | None = None,
        ob: int = 0,
    ) -> Conn:
        """A connection attempt that carried no data back, as a sensor in front of a blocking
        firewall logs it: S0 (dropped; repeated SYNs, or a UDP datagram with its payload),
        REJ (reset by the firewall), SH or a lone packet (OTH). Byte counts are 0 as Zeek
        writes them (a UDP datagram's payload is ``ob``)."""
        c = Conn(self.ident("C"), src, self.sport(), dst, dport)
        hdr = _HDR[proto]
        self.rows["conn"].append(
            {
                "ts": ts,
                "uid": c.uid,
                "id.orig_h": src,
                "id.orig_p": c.sport,
                "id.resp_h": dst,
                "id.resp_p": dport,
                "proto": proto,
                "service": None,
                "duration": duration,
                "orig_bytes": ob,
                "resp_bytes": 0,
                "conn_state": state,
                "local_orig": src.startswith("10."),
                "local_resp": dst.startswith("10."),
                "missed_bytes": 0,
                "history": history,
                "orig_pkts": orig_pkts,
                "orig_ip_bytes": orig_pkts * hdr + ob,
                "resp_pkts": resp_pkts,
                "resp_ip_bytes": resp_pkts * 40,
                "ip_proto": _IP_PROTO[proto],
            }
        )
        return c

    # -- dns -----------------------------------------------------------------------------------
    def dns(
        self,
        ts: float,
        src: str,
        server: str,
        query: str,
        answers: Sequence[str],
        ttl: float,
        *,
        qtype: int = 1,
        rcode: int = 0,
        rtt: float = 0.001,
    ) -> None:
        ob = 29 + len(query)
        rb = ob + 16 * len(answers) + (0 if answers else 40)
        c = self.conn(ts, src, server, 53, proto="udp", service="dns", duration=rtt, ob=ob, rb=rb)
        row = c.base(ts)
        row.update(
            {
                "proto": "udp",
                "trans_id": int(self._ids.random() * 65535),
                "rtt": rtt,
                "query": query,
                "qclass": 1,
                "qclass_name": "C_INTERNET",
                "qtype": qtype,
                "qtype_name": _QTYPE[qtype],
                "rcode": rcode,
                "rcode_name": _RCODE[rcode],
                "AA": query.endswith(".corp.local"),
                "TC": False,
                "RD": True,
                "RA": True,
                "Z": 0,
                "answers": list(answers) if answers else None,
                "TTLs": [ttl] * len(answers) if answers else None,
                "rejected": False,
            }
        )
        self.rows["dns"].append(row)

    # -- http / files / ssl --------------------------------------------------------------------
    def http(
        self,
        c: Conn,
        ts: float,
        *,
        depth: int,
        method: str,
        host: str,
        uri: str,
        user_agent: str,
        status: int = 200,
        req_len: int = 0,
        resp_len: int = 0,
        referrer: str | None = None,
        orig_fuid: str | None = None,
        orig_filename: str | None = None,
        orig_mime: str | None = None,
        resp_fuid: str | None = None,
        resp_mime: str | None = None,
    ) -> None:
        if c.upstream is not None:
            # the proxy re-issues the request in origin form on its own connection
            self.http(
                c.upstream,
                ts + 0.003,
                depth=depth,
                method=method,
                host=host,
                uri=uri,
                user_agent=user_agent,
                status=status,
                req_len=req_len,
                resp_len=resp_len,
                referrer=referrer,
                orig_fuid=orig_fuid,
                orig_filename=orig_filename,
                orig_mime=orig_mime,
                resp_fuid=resp_fuid,
                resp_mime=resp_mime,
            )
            uri = f"http://{host}{uri}"  # the client's request to the proxy: absolute form
        row = c.base(ts)
        row.update(
            {
                "trans_depth": depth,
                "method": method,
                "host": host,
                "uri": uri,
                "referrer": referrer,
                "version": "1.1",
                "user_agent": user_agent,
                "request_body_len": req_len,
                "response_body_len": resp_len,
                "status_code": status,
                "status_msg": _STATUS[status],
                "tags": [],
                "orig_fuids": [orig_fuid] if orig_fuid else None,
                "orig_filenames": [orig_filename] if orig_filename else None,
                "orig_mime_types": [orig_mime] if orig_mime else None,
                "resp_fuids": [resp_fuid] if resp_fuid else None,
                "resp_mime_types": [resp_mime] if resp_mime else None,
            }
        )
        self.rows["http"].append(row)

    def file(
        self,
        c: Conn,
        ts: float,
        fuid: str,
        *,
        source: str,
        is_orig: bool,
        mime: str | None,
        size: int,
        filename: str | None = None,
        md5: str | None = None,
        sha1: str | None = None,
        pe: bool = False,
        duration: float = 0.0,
    ) -> None:
        tx, rx = (c.src, c.dst) if is_orig else (c.dst, c.src)
        hashed = md5 is not None
        row: Row = {
            "ts": ts,
            "fuid": fuid,
            "uid": c.uid,
            "id.orig_h": c.src,
            "id.orig_p": c.sport,
            "id.resp_h": c.dst,
            "id.resp_p": c.dport,
            "tx_hosts": [tx],
            "rx_hosts": [rx],
            "conn_uids": [c.uid],
            "source": source,
            "depth": 0,
            "analyzers": (["MD5", "PE", "SHA1"] if pe else ["MD5", "SHA1"]) if hashed else [],
            "mime_type": mime,
            "filename": filename,
            "duration": duration,
            "local_orig": tx.startswith("10."),
            "is_orig": is_orig,
            "seen_bytes": size,
            "total_bytes": size,
            "missing_bytes": 0,
            "overflow_bytes": 0,
            "timedout": False,
            "md5": md5,
            "sha1": sha1,
        }
        self.rows["files"].append(row)

    def ssl(
        self,
        c: Conn,
        ts: float,
        *,
        server_name: str | None,
        resumed: bool,
        subject: str,
        issuer: str,
        cert_fp: str,
        version: str = "TLSv12",
        cipher: str = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        curve: str = "secp256r1",
        next_protocol: str | None = None,
        validation_status: str = "ok",
    ) -> None:
        if c.upstream is not None:
            if c.uid not in self._connected:
                self._connected.add(c.uid)
                target = f"{server_name or c.upstream.dst}:{c.upstream.dport}"
                row = c.base(ts - 0.002)
                row.update(
                    {
                        "trans_depth": 1,
                        "method": "CONNECT",
                        "host": target,
                        "uri": target,
                        "version": "1.1",
                        "request_body_len": 0,
                        "response_body_len": 0,
                        "status_code": 200,
                        "status_msg": "Connection established",
                        "tags": [],
                    }
                )
                self.rows["http"].append(row)
            self.ssl(
                c.upstream,
                ts + 0.003,
                server_name=server_name,
                resumed=resumed,
                subject=subject,
                issuer=issuer,
                cert_fp=cert_fp,
                version=version,
                cipher=cipher,
                curve=curve,
                next_protocol=next_protocol,
                validation_status=validation_status,
            )
        row = c.base(ts)
        row.update(
            {
                "version": version,
                "cipher": cipher,
                "curve": curve,
                "server_name": server_name,
                "resumed": resumed,
                "next_protocol": next_protocol,
                "established": True,
                "ssl_history": "CsiI" if resumed else "CsxknGIi",
                "cert_chain_fps": None if resumed else [cert_fp],
                "client_cert_chain_fps": None if resumed else [],
                "subject": None if resumed else subject,
                "issuer": None if resumed else issuer,
                "sni_matches_cert": None if resumed or server_name is None else True,
                "validation_status": None if resumed else validation_status,
            }
        )
        self.rows["ssl"].append(row)

    # -- smb / dce-rpc / auth ------------------------------------------------------------------
    def smb_mapping(self, c: Conn, ts: float, path: str, *, pipe: bool = False) -> None:
        row = c.base(ts)
        row.update(
            {
                "path": path,
                "service": None,
                "native_file_system": None if pipe else "NTFS",
                "share_type": "PIPE" if pipe else "DISK",
            }
        )
        self.rows["smb_mapping"].append(row)

    def smb_file(
        self,
        c: Conn,
        ts: float,
        action: str,
        path: str,
        name: str,
        *,
        size: int = 0,
        fuid: str | None = None,
        data_len: int | None = None,
    ) -> None:
        row = c.base(ts)
        row.update(
            {
                "fuid": fuid,
                "action": action,
                "path": path,
                "name": name,
                "size": size,
                "times.modified": ts - 86400.0 * 3 if action != "SMB::PIPE_OPEN" else None,
                "times.accessed": ts if action != "SMB::PIPE_OPEN" else None,
                "times.created": ts - 86400.0 * 30 if action != "SMB::PIPE_OPEN" else None,
                "times.changed": ts - 86400.0 * 3 if action != "SMB::PIPE_OPEN" else None,
                "data_offset_req": 0 if data_len is not None else None,
                "data_len_req": data_len,
                "data_len_rsp": data_len,
            }
        )
        self.rows["smb_files"].append(row)

    def pipe_open(self, c: Conn, ts: float, ipc_path: str, pipe: str) -> None:
        """Zeek does not log pipe opens by default; only with log_pipe_names."""
        if self.log_pipe_names:
            self.smb_file(c, ts, "SMB::PIPE_OPEN", ipc_path, pipe)

    def dce_rpc(
        self,
        c: Conn,
        ts: float,
        pipe: str,
        endpoint: str,
        operations: Sequence[str],
        *,
        ipc_path: str,
        rtt: float = 0.0008,
    ) -> float:
        """A named-pipe DCE/RPC exchange; returns the time after the last operation."""
        self.pipe_open(c, ts, ipc_path, pipe)
        t = ts + 0.002
        for op in operations:
            row = c.base(t)
            row.update(
                {
                    "rtt": rtt,
                    "named_pipe": f"\\pipe\\{pipe}",
                    "endpoint": endpoint,
                    "operation": op,
                }
            )
            self.rows["dce_rpc"].append(row)
            t += rtt + 0.003
        return t

    def ntlm(
        self,
        c: Conn,
        ts: float,
        *,
        username: str,
        hostname: str,
        domain: str,
        server_name: str,
        server_dns: str,
        tree: str,
        success: bool = True,
    ) -> None:
        row = c.base(ts)
        row.update(
            {
                "username": username,
                "hostname": hostname,
                "domainname": domain,
                "server_nb_computer_name": server_name,
                "server_dns_computer_name": server_dns,
                "server_tree_name": tree,
                "success": success,
            }
        )
        self.rows["ntlm"].append(row)

    def kerberos(
        self,
        c: Conn,
        ts: float,
        *,
        request_type: str,
        client: str,
        service: str,
        success: bool = True,
        error_msg: str | None = None,
        cipher: str | None = "aes256-cts-hmac-sha1-96",
    ) -> None:
        row = c.base(ts)
        row.update(
            {
                "request_type": request_type,
                "client": client,
                "service": service,
                "success": success,
                "error_msg": error_msg,
                "till": ts + 36000.0 if success else None,
                "cipher": cipher if success else None,
                "forwardable": True,
                "renewable": True,
            }
        )
        self.rows["kerberos"].append(row)
