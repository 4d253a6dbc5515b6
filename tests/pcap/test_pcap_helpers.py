"""Helpers of the capture conversion called directly, on bytes written from the protocol's
document (RFC 9112 for an HTTP message head)."""

from __future__ import annotations

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
