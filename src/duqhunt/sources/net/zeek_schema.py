"""The one Zeek schema map: log types, their fields, Zeek types and the canonical Arrow types.

Written once and used everywhere: the TSV reader (to cast what #types says into canonical
types), the JSON reader (which has no #types), the engines (empty tables for log types a case
does not have), and the simulator (which writes logs with these headers).

Canonical column names replace dots with underscores (``id.orig_h`` -> ``id_orig_h``); times
and intervals are DOUBLE epoch seconds; counts, ints and ports are BIGINT (Spark has no
unsigned types); addresses are strings; sets and vectors are lists.
"""

from __future__ import annotations

import pyarrow as pa

# (zeek name, zeek type) per log. Only the fields duqhunt reads or that Zeek writes by default;
# other fields in a real log are kept with the type their header gives.
_ID = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
]

LOGS: dict[str, list[tuple[str, str]]] = {
    "conn": [
        *_ID,
        ("proto", "enum"),
        ("service", "string"),
        ("duration", "interval"),
        ("orig_bytes", "count"),
        ("resp_bytes", "count"),
        ("conn_state", "string"),
        ("local_orig", "bool"),
        ("local_resp", "bool"),
        ("missed_bytes", "count"),
        ("history", "string"),
        ("orig_pkts", "count"),
        ("orig_ip_bytes", "count"),
        ("resp_pkts", "count"),
        ("resp_ip_bytes", "count"),
        ("tunnel_parents", "set[string]"),
        ("ip_proto", "count"),
    ],
    "dns": [
        *_ID,
        ("proto", "enum"),
        ("trans_id", "count"),
        ("rtt", "interval"),
        ("query", "string"),
        ("qclass", "count"),
        ("qclass_name", "string"),
        ("qtype", "count"),
        ("qtype_name", "string"),
        ("rcode", "count"),
        ("rcode_name", "string"),
        ("AA", "bool"),
        ("TC", "bool"),
        ("RD", "bool"),
        ("RA", "bool"),
        ("Z", "count"),
        ("answers", "vector[string]"),
        ("TTLs", "vector[interval]"),
        ("rejected", "bool"),
    ],
    "http": [
        *_ID,
        ("trans_depth", "count"),
        ("method", "string"),
        ("host", "string"),
        ("uri", "string"),
        ("referrer", "string"),
        ("version", "string"),
        ("user_agent", "string"),
        ("origin", "string"),
        ("request_body_len", "count"),
        ("response_body_len", "count"),
        ("status_code", "count"),
        ("status_msg", "string"),
        ("info_code", "count"),
        ("info_msg", "string"),
        ("tags", "set[enum]"),
        ("username", "string"),
        ("password", "string"),
        ("proxied", "set[string]"),
        ("orig_fuids", "vector[string]"),
        ("orig_filenames", "vector[string]"),
        ("orig_mime_types", "vector[string]"),
        ("resp_fuids", "vector[string]"),
        ("resp_filenames", "vector[string]"),
        ("resp_mime_types", "vector[string]"),
    ],
    "files": [
        ("ts", "time"),
        ("fuid", "string"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("tx_hosts", "set[addr]"),
        ("rx_hosts", "set[addr]"),
        ("conn_uids", "set[string]"),
        ("source", "string"),
        ("depth", "count"),
        ("analyzers", "set[string]"),
        ("mime_type", "string"),
        ("filename", "string"),
        ("duration", "interval"),
        ("local_orig", "bool"),
        ("is_orig", "bool"),
        ("seen_bytes", "count"),
        ("total_bytes", "count"),
        ("missing_bytes", "count"),
        ("overflow_bytes", "count"),
        ("timedout", "bool"),
        ("parent_fuid", "string"),
        ("md5", "string"),
        ("sha1", "string"),
        ("sha256", "string"),
        ("extracted", "string"),
        ("extracted_cutoff", "bool"),
        ("extracted_size", "count"),
    ],
    "ssl": [
        *_ID,
        ("version", "string"),
        ("cipher", "string"),
        ("curve", "string"),
        ("server_name", "string"),
        ("resumed", "bool"),
        ("last_alert", "string"),
        ("next_protocol", "string"),
        ("established", "bool"),
        ("ssl_history", "string"),
        ("cert_chain_fps", "vector[string]"),
        ("client_cert_chain_fps", "vector[string]"),
        ("subject", "string"),
        ("issuer", "string"),
        ("sni_matches_cert", "bool"),
        ("validation_status", "string"),
    ],
    "smb_mapping": [
        *_ID,
        ("path", "string"),
        ("service", "string"),
        ("native_file_system", "string"),
        ("share_type", "string"),
    ],
    "smb_files": [
        *_ID,
        ("fuid", "string"),
        ("action", "enum"),
        ("path", "string"),
        ("name", "string"),
        ("size", "count"),
        ("prev_name", "string"),
        ("times.modified", "time"),
        ("times.accessed", "time"),
        ("times.created", "time"),
        ("times.changed", "time"),
        ("data_offset_req", "count"),
        ("data_len_req", "count"),
        ("data_len_rsp", "count"),
    ],
    "dce_rpc": [
        *_ID,
        ("rtt", "interval"),
        ("named_pipe", "string"),
        ("endpoint", "string"),
        ("operation", "string"),
    ],
    "ntlm": [
        *_ID,
        ("username", "string"),
        ("hostname", "string"),
        ("domainname", "string"),
        ("server_nb_computer_name", "string"),
        ("server_dns_computer_name", "string"),
        ("server_tree_name", "string"),
        ("success", "bool"),
    ],
    "kerberos": [
        *_ID,
        ("request_type", "string"),
        ("client", "string"),
        ("service", "string"),
        ("success", "bool"),
        ("error_msg", "string"),
        ("from", "time"),
        ("till", "time"),
        ("cipher", "string"),
        ("forwardable", "bool"),
        ("renewable", "bool"),
    ],
    # DHCP has no single connection: Zeek logs one row per lease exchange, with the uids of the
    # connections it spans.
    "dhcp": [
        ("ts", "time"),
        ("uids", "set[string]"),
        ("client_addr", "addr"),
        ("server_addr", "addr"),
        ("client_port", "port"),
        ("server_port", "port"),
        ("mac", "string"),
        ("host_name", "string"),
        ("client_fqdn", "string"),
        ("domain", "string"),
        ("requested_addr", "addr"),
        ("assigned_addr", "addr"),
        ("lease_time", "interval"),
        ("client_message", "string"),
        ("server_message", "string"),
        ("msg_types", "vector[string]"),
        ("duration", "interval"),
    ],
}

# Log types the detectors read: the engines create empty tables for any of these a case lacks.
ANALYSED_LOGS: tuple[str, ...] = (
    "conn",
    "dns",
    "http",
    "files",
    "ssl",
    "smb_mapping",
    "smb_files",
    "dce_rpc",
    "ntlm",
    "kerberos",
    "dhcp",
)

_SCALAR: dict[str, pa.DataType] = {
    "time": pa.float64(),
    "interval": pa.float64(),
    "double": pa.float64(),
    "count": pa.int64(),
    "int": pa.int64(),
    "port": pa.int64(),
    "bool": pa.bool_(),
    "addr": pa.string(),
    "subnet": pa.string(),
    "string": pa.string(),
    "enum": pa.string(),
    "pattern": pa.string(),
    "func": pa.string(),
    "file": pa.string(),
}


def canonical_name(zeek_name: str) -> str:
    """``id.orig_h`` -> ``id_orig_h``. Column names become portable SQL identifiers."""
    return zeek_name.replace(".", "_").replace("-", "_")


def container_inner(zeek_type: str) -> str | None:
    """``set[addr]`` -> ``addr``; ``vector[interval]`` -> ``interval``; scalars -> None."""
    for prefix in ("set[", "vector[", "table["):
        if zeek_type.startswith(prefix) and zeek_type.endswith("]"):
            return zeek_type[len(prefix) : -1]
    return None


def arrow_type(zeek_type: str) -> pa.DataType:
    """The canonical Arrow type of a Zeek type; unknown types are kept as strings."""
    inner = container_inner(zeek_type)
    if inner is not None:
        return pa.list_(_SCALAR.get(inner, pa.string()))
    return _SCALAR.get(zeek_type, pa.string())


def known_types(log_type: str) -> dict[str, str]:
    """Zeek types of a known log's fields, keyed by Zeek (dotted) name and by canonical name
    (sensors that write ``id_orig_h`` for ``id.orig_h``: RockNSM, many SIEM exports)."""
    fields = LOGS.get(log_type, [])
    out = {canonical_name(n): t for n, t in fields}
    out.update(fields)
    return out


def canonical_schema(log_type: str) -> pa.Schema:
    """The canonical Arrow schema of a known log type (used for empty tables)."""
    return pa.schema(
        [pa.field(canonical_name(n), arrow_type(t)) for n, t in LOGS.get(log_type, [])]
    )
