"""`duqhunt serve`: a local web application over a case (see duqhunt.web.app).

Imports of the web framework are lazy so that the rest of duqhunt never needs them.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from duqhunt.errors import UsageError


def serve(
    case: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    analyst: str | None = None,
    announce: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> int:
    """Serve ``case`` until interrupted. Prints the URL (with the token, once) via ``announce``."""
    import uvicorn

    from duqhunt.triage import default_analyst
    from duqhunt.web.app import _is_loopback, create_app
    from duqhunt.web.case import CaseSource

    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: choose 0 (any free port) to 65535")
    if token is not None and len(token) < 16:
        raise UsageError("--token must be at least 16 characters")
    source = CaseSource(case)
    token = token or secrets.token_urlsafe(32)
    loopback = _is_loopback(host)
    if not loopback:
        warn(
            f"warning: serving on {host}, reachable from the network; anyone who has the "
            "token can read and triage this case"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    real_port = sock.getsockname()[1]
    app = create_app(source, token, analyst or default_analyst(), loopback_only=loopback)
    shown = f"[{host}]" if ":" in host else host
    announce(f"duqhunt serve: {source.folder}")
    announce(f"open http://{shown}:{real_port}/?token={token}")
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


__all__ = ["serve"]
