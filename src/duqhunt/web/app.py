"""`duqhunt serve`: the case in a browser (FastAPI on uvicorn, pages from the report document).

Security model: the app binds loopback unless told otherwise, and every page, file and API call
needs the access token: once in the printed URL (``/?token=...``, which sets an HttpOnly,
SameSite=Strict session cookie and redirects to a URL without it), or as
``Authorization: Bearer TOKEN``. A request that changes state needs more than the cookie: the
bearer token, or the page's CSRF token (a hidden form field, or the ``X-CSRF-Token`` header).
On loopback the Host header must name a loopback address (no DNS rebinding). Every response
carries a Content-Security-Policy that allows only the app's own CSS and JS, and evidence
strings are escaped by the templates (autoescape; control characters made visible).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from duqhunt.errors import UsageError
from duqhunt.model import severity_rank
from duqhunt.model.finding import Finding
from duqhunt.model.grouping import group_machine_count
from duqhunt.model.report import ReportDocument
from duqhunt.triage import MAX_NOTE, STATUSES, AllowRecord, allow_candidate, triage_model
from duqhunt.web.case import (
    SORTS,
    CaseSource,
    CaseUnavailable,
    FindingQuery,
    group_of,
    groups,
    machine_links,
    pivots,
)

COOKIE = "duqhunt_session"
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_STATIC = Path(__file__).resolve().parent / "static"
_REPORT_CSS = Path(__file__).resolve().parents[1] / "render" / "templates" / "report.css"
_SEVERITIES = ("info", "low", "medium", "high", "critical")
MAX_BODY = 64 * 1024
HOSTS_PER_PAGE = 200


def _mac(token: str, purpose: str) -> str:
    return hmac.new(token.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_only(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class _Guard(BaseHTTPMiddleware):
    def __init__(self, app: Any, token: str, loopback_only: bool) -> None:
        super().__init__(app)
        self.session = _mac(token, "session")
        self.token = token
        self.loopback_only = loopback_only

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if self.loopback_only and not _is_loopback(_host_only(request.headers.get("host", ""))):
            return _plain(421, "this app answers on its loopback address only")
        if request.url.path == "/favicon.ico":  # nothing to protect; browsers ask unasked
            return _secure(Response(status_code=204))
        auth = request.headers.get("authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        via = None
        if bearer is not None:
            if hmac.compare_digest(bearer, self.token):
                via = "bearer"
        elif hmac.compare_digest(request.cookies.get(COOKIE, ""), self.session):
            via = "cookie"
        if (
            via is None
            and request.url.path == "/"
            and "token" in request.query_params
            and hmac.compare_digest(request.query_params["token"], self.token)
        ):
            resp = RedirectResponse("/", status_code=303)
            resp.set_cookie(COOKIE, self.session, httponly=True, samesite="strict", path="/")
            return _secure(resp)
        if via is None:
            if request.url.path.startswith("/api/"):
                return _secure(
                    JSONResponse(
                        {"error": "unauthorized: send the token"},
                        status_code=401,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                )
            return _plain(
                401,
                "unauthorized: open the URL that `duqhunt serve` printed "
                "(it carries the access token once)",
            )
        request.state.via = via
        return _secure(await call_next(request))


def _secure(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _plain(status: int, text: str) -> Response:
    return _secure(Response(text + "\n", status_code=status, media_type="text/plain"))


def create_app(
    source: CaseSource, token: str, analyst: str, *, loopback_only: bool = True
) -> FastAPI:
    """The web application over one case; ``token`` guards every request."""
    from duqhunt.render.templating import environment

    env = environment()
    csrf = _mac(token, "csrf")
    app = FastAPI(title="duqhunt", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(_Guard, token=token, loopback_only=loopback_only)

    def page(name: str, doc: ReportDocument, **ctx: Any) -> HTMLResponse:
        html = env.get_template(name).render(
            doc=doc,
            csrf=csrf,
            severities=_SEVERITIES,
            statuses=STATUSES,
            sorts=SORTS,
            quote=quote,
            machine_links=machine_links,
            machine_count=lambda g: group_machine_count(g, doc),
            **ctx,
        )
        return HTMLResponse(html)

    def allowed_to_change(request: Request, form_csrf: str | None) -> bool:
        if request.state.via == "bearer":
            return True
        sent = form_csrf or request.headers.get("x-csrf-token", "")
        return hmac.compare_digest(sent, csrf)

    def query_from(params: Any) -> FindingQuery:
        def opt(name: str) -> str | None:
            v = params.get(name)
            return v if v else None

        def num(name: str, default: int) -> int:
            try:
                return int(params.get(name, default))
            except (TypeError, ValueError):
                raise UsageError(f"{name} must be a whole number") from None

        sev = opt("severity")
        if sev is not None and sev not in _SEVERITIES:
            raise UsageError(f"severity must be one of {', '.join(_SEVERITIES)}")
        status = opt("status")
        if status is not None and status not in STATUSES:
            raise UsageError(f"status must be one of {', '.join(STATUSES)}")
        sort = params.get("sort") or "severity"
        if sort not in SORTS:
            raise UsageError(f"sort must be one of {', '.join(SORTS)}")
        order = params.get("order") or "desc"
        if order not in ("asc", "desc"):
            raise UsageError("order must be asc or desc")
        return FindingQuery(
            min_severity=sev,
            stage=opt("stage"),
            detector=opt("detector"),
            host=opt("host"),
            status=status,
            text=opt("q"),
            group=opt("group"),
            sort=sort,
            descending=order == "desc",
            page=num("page", 1),
            per_page=num("per_page", 50),
        )

    @app.exception_handler(CaseUnavailable)
    async def _no_report_yet(request: Request, exc: CaseUnavailable) -> Response:
        return _plain(503, f"no report to show yet: {exc}. Reload when the hunt finishes.")

    @app.exception_handler(UsageError)
    async def _bad_request(request: Request, exc: UsageError) -> Response:
        if request.url.path.startswith("/api/"):
            return _secure(JSONResponse({"error": str(exc)}, status_code=400))
        return _plain(400, str(exc))

    # -- pages ---------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def summary() -> Response:
        doc = source.document()
        counts = {s: 0 for s in _SEVERITIES}
        for f in doc.findings:
            counts[f.severity] += 1
        status_counts = {s: 0 for s in STATUSES}
        for f in doc.findings:
            status_counts[f.triage.status if f.triage else "new"] += 1
        return page(
            "web_summary.html.j2",
            doc,
            groups=groups(doc),
            counts=counts,
            status_counts=status_counts,
        )

    @app.get("/topology", response_class=HTMLResponse)
    def topology() -> Response:
        from duqhunt.render.topology import build_topology

        doc = source.document()
        return page("web_topology.html.j2", doc, topo=build_topology(doc.campaign, doc.hosts))

    @app.get("/findings", response_class=HTMLResponse)
    def findings(request: Request) -> Response:
        doc = source.document()
        q = query_from(request.query_params)
        res = source.query(doc, q)
        params = {k: v for k, v in request.query_params.items() if k != "page" and v}
        return page(
            "web_findings.html.j2",
            doc,
            q=q,
            res=res,
            params=params,
            group=group_of(doc, q.group) if q.group else None,
            stages=sorted({f.stage for f in doc.findings}),
            detectors=sorted({f.detector for f in doc.findings}),
        )

    @app.get("/findings/{finding_id}", response_class=HTMLResponse)
    def finding_page(finding_id: str) -> Response:
        doc = source.document()
        f = source.finding(doc, finding_id)
        if f is None:
            return _plain(404, f"no finding {finding_id!r} in this case")
        return page(
            "web_finding.html.j2",
            doc,
            f=f,
            pivots=pivots(f),
            related=source.related(doc, f),
            history=source.triage.history(f.id),
            allowable=_allow_options(f),
            fmt_time=_fmt_time,
        )

    @app.post("/findings/{finding_id}/triage")
    async def finding_triage_form(finding_id: str, request: Request) -> Response:
        form = await _form(request)
        if not allowed_to_change(request, form.get("csrf")):
            return _plain(403, "forbidden: the form's CSRF token is missing or wrong")
        doc = source.document()
        if source.finding(doc, finding_id) is None:
            return _plain(404, f"no finding {finding_id!r} in this case")
        source.triage.set(finding_id, form.get("status", ""), form.get("note", ""), analyst)
        return RedirectResponse(f"/findings/{quote(finding_id)}", status_code=303)

    @app.post("/findings/{finding_id}/allow")
    async def finding_allow_form(finding_id: str, request: Request) -> Response:
        form = await _form(request)
        if not allowed_to_change(request, form.get("csrf")):
            return _plain(403, "forbidden: the form's CSRF token is missing or wrong")
        result = _allow(finding_id, form.get("reason", ""))
        if isinstance(result, Response):
            return result
        return RedirectResponse(f"/findings/{quote(finding_id)}", status_code=303)

    @app.get("/hosts", response_class=HTMLResponse)
    def hosts_page(request: Request) -> Response:
        doc = source.document()
        query = request.query_params.get("q", "")
        hosts = source.hosts(doc, query)
        try:
            n = max(1, int(request.query_params.get("page", 1)))
        except ValueError:
            raise UsageError("page must be a whole number") from None
        pages = max(1, -(-len(hosts) // HOSTS_PER_PAGE))
        shown = hosts[(n - 1) * HOSTS_PER_PAGE : n * HOSTS_PER_PAGE]
        return page(
            "web_hosts.html.j2", doc, hosts=shown, total=len(hosts), n=n, pages=pages, q=query
        )

    @app.get("/hosts/{host_id}", response_class=HTMLResponse)
    def host_page(host_id: str) -> Response:
        doc = source.document()
        story = source.host(doc, host_id)
        if story is None:
            return _plain(404, f"no host {host_id!r} in this case")
        return page("web_host.html.j2", doc, h=story)

    @app.get("/inputs", response_class=HTMLResponse)
    def inputs_page() -> Response:
        doc = source.document()
        return page("web_inputs.html.j2", doc)

    @app.get("/report.html", response_class=HTMLResponse)
    def offline_report() -> Response:
        from duqhunt.render import render_html

        doc = source.document()
        # the offline report carries its own hash-based CSP in a meta tag
        return HTMLResponse(render_html(doc), headers={"Content-Security-Policy": _offline_csp()})

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        files = {
            "app.css": ("text/css", _STATIC / "app.css"),
            "report.css": ("text/css", _REPORT_CSS),
            "app.js": ("text/javascript", _STATIC / "app.js"),
        }
        if name not in files:
            return _plain(404, "no such file")
        media, path = files[name]
        return Response(path.read_bytes(), media_type=media)

    # -- API -----------------------------------------------------------------------------------
    @app.get("/api/report")
    def api_report() -> Response:
        doc = source.document()
        return Response(doc.model_dump_json(), media_type="application/json")

    @app.get("/api/run")
    def api_run() -> Response:
        doc = source.document()
        return JSONResponse(
            {"started": doc.started, "finished": doc.finished, "findings": len(doc.findings)}
        )

    @app.get("/api/findings")
    def api_findings(request: Request) -> Response:
        doc = source.document()
        res = source.query(doc, query_from(request.query_params))
        return JSONResponse(
            {
                "total": res.total,
                "page": res.page,
                "per_page": res.per_page,
                "pages": res.pages,
                "items": [f.model_dump(mode="json") for f in res.items],
            }
        )

    @app.get("/api/findings/{finding_id}")
    def api_finding(finding_id: str) -> Response:
        doc = source.document()
        f = source.finding(doc, finding_id)
        if f is None:
            return JSONResponse({"error": f"no finding {finding_id!r}"}, status_code=404)
        return JSONResponse(
            {
                **f.model_dump(mode="json"),
                "pivots": pivots(f),
                "history": [_verdict_json(v) for v in source.triage.history(f.id)],
                "related": [g.id for g in source.related(doc, f)],
            }
        )

    @app.get("/api/hosts/{host_id}")
    def api_host(host_id: str) -> Response:
        doc = source.document()
        story = source.host(doc, host_id)
        if story is None:
            return JSONResponse({"error": f"no host {host_id!r}"}, status_code=404)
        return JSONResponse(
            {
                "id": story["id"],
                "aliases": story["aliases"],
                "entry": story["entry"],
                "findings": [f.id for f in story["findings"]],
                "events": story["events"],
                "neighbours": story["neighbours"],
            }
        )

    @app.post("/api/findings/{finding_id}/triage")
    async def api_triage(finding_id: str, request: Request) -> Response:
        if not allowed_to_change(request, None):
            return JSONResponse(
                {"error": "forbidden: send X-CSRF-Token or the bearer token"}, status_code=403
            )
        body = await _json(request)
        if isinstance(body, Response):
            return body
        status, note = body.get("status"), body.get("note", "")
        if status not in STATUSES:
            return JSONResponse(
                {"error": f"status must be one of {', '.join(STATUSES)}"}, status_code=400
            )
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            return JSONResponse(
                {"error": f"note must be text of at most {MAX_NOTE} characters"}, status_code=400
            )
        doc = source.document()
        if source.finding(doc, finding_id) is None:
            return JSONResponse({"error": f"no finding {finding_id!r}"}, status_code=404)
        v = source.triage.set(finding_id, status, note, analyst)
        return JSONResponse(_verdict_json(v))

    @app.post("/api/findings/{finding_id}/allow")
    async def api_allow(finding_id: str, request: Request) -> Response:
        if not allowed_to_change(request, None):
            return JSONResponse(
                {"error": "forbidden: send X-CSRF-Token or the bearer token"}, status_code=403
            )
        body = await _json(request)
        if isinstance(body, Response):
            return body
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            return JSONResponse({"error": "reason must be text"}, status_code=400)
        result = _allow(finding_id, reason)
        if isinstance(result, Response):
            return result
        return JSONResponse(
            {
                "finding_id": result.finding_id,
                "applies_to": result.applies_to,
                "value": result.value,
                "reason": result.reason,
                "analyst": result.analyst,
            },
            status_code=201,
        )

    def _allow(finding_id: str, reason: str) -> AllowRecord | Response:
        doc = source.document()
        f = source.finding(doc, finding_id)
        if f is None:
            return JSONResponse({"error": f"no finding {finding_id!r}"}, status_code=404)
        if not (f.triage and f.triage.status == "benign"):
            return JSONResponse({"error": "mark the finding benign first"}, status_code=409)
        cand = allow_candidate(f.detector, f.stage, _details_of(f, finding_id))
        if cand is None:
            return JSONResponse(
                {"error": "only beacons and admin tooling can be allow-listed"}, status_code=422
            )
        applies_to, value, kind = cand
        return source.triage.add_allow(
            AllowRecord(
                finding_id=finding_id,
                applies_to=applies_to,
                value=value,
                value_kind=kind,
                reason=reason or (f.triage.note or "marked benign in triage"),
                analyst=analyst,
                time=time.time(),
            )
        )

    return app


def _details_of(f: Finding, ident: str) -> dict[str, Any]:
    """The details of the finding, or of one of its occurrences when `ident` is that
    occurrence's id (a merged finding has its first occurrence's id): a merged event storm
    keeps only the details its repeats share, and the one that differs (a beacon's
    destination) is what an allow entry needs."""
    for o in f.occurrences:
        if o.id == ident:
            return {**f.details, **o.details}
    return dict(f.details)


def _allow_options(f: Finding) -> list[tuple[str, tuple[str, str, str]]]:
    """(finding or occurrence id, what a benign verdict can allow-list) for each different
    thing the finding can allow: one for a single finding, one per destination or source among
    a merged finding's occurrences."""
    ids = [o.id for o in f.occurrences] or [f.id]
    seen: dict[tuple[str, str], tuple[str, tuple[str, str, str]]] = {}
    for ident in ids:
        cand = allow_candidate(f.detector, f.stage, _details_of(f, ident))
        if cand is not None:
            seen.setdefault((cand[0], cand[1]), (ident, cand))
    return list(seen.values())


def _verdict_json(v: Any) -> dict[str, Any]:
    return triage_model(v).model_dump() | {"finding_id": v.finding_id}


def _fmt_time(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise UsageError("request body too large")
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


async def _json(request: Request) -> dict[str, Any] | Response:
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "request body too large"}, status_code=413)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return JSONResponse({"error": "the body is not JSON"}, status_code=400)
    if not isinstance(data, dict):
        return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
    return data


def _offline_csp() -> str:
    # the page's own meta tag pins its inline style and script by hash; this header only
    # forbids what the meta tag cannot (framing)
    return "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def severity_of(f: Finding) -> int:
    return severity_rank(f.severity)


__all__ = ["CSP", "create_app"]
