"""Helpers of the capture conversion called directly, on bytes written from the protocol's
document (RFC 9112 for an HTTP message head)."""

from __future__ import annotations

import shutil

import pytest

from duqhunt.sources.net.pcap import _http_head


def test_http_head_is_the_start_line_and_the_fields_before_the_empty_line() -> None:
    """RFC 9112 2.1: start-line, then field lines, then an empty line, then the body; a
    recipient may take a bare LF for CRLF. Field names are case-insensitive (the first of a
    repeated name is kept); nothing after the empty line is a field."""
    crlf = b"POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Type: text/plain\r\n\r\nX-Not: body"
    assert _http_head(crlf) == {
        "": "POST /upload HTTP/1.1",
        "host": "a.test",
        "content-type": "text/plain",
    }
    lf = b"HTTP/1.1 200 OK\nServer: x\nSERVER: y\n\nX-Not: body"
    assert _http_head(lf) == {"": "HTTP/1.1 200 OK", "server": "x"}


def test_cipher_suite_names_are_ianas_from_tsharks_value_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ssl.log names the chosen cipher suite as IANA's TLS Cipher Suites registry does (and
    Zeek logs it): 0xC02F is TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0x1301 TLS_AES_128_GCM_SHA256.
    The table is read once from tshark (-G values); read afresh here."""
    from duqhunt.sources.net import pcap

    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed")
    monkeypatch.setattr(pcap, "_TSHARK_FOR_VALUES", tshark)
    monkeypatch.setattr(pcap, "_CIPHERS", None)
    names = pcap._cipher_names()
    assert names[0xC02F] == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert names[0x1301] == "TLS_AES_128_GCM_SHA256"
