"""Helpers for the web app tests: the access token and findings built in code."""

from __future__ import annotations

from duqhunt.model.finding import Evidence, Finding

TOKEN = "test-token-0123456789abcdef"


def finding(n: int, **kw: object) -> Finding:
    base: dict[str, object] = {
        "id": f"DQ-NET-002-{n:016x}",
        "detector": "DQ-NET-002",
        "title": f"10.1.{n // 250}.{n % 250} beacons to 203.0.113.{n % 200} every ~10 min",
        "stage": "command-and-control",
        "attack": ["T1071.001"],
        "severity": ("low", "medium", "high", "critical")[n % 4],
        "confidence": 0.5,
        "hosts": [f"10.1.{n // 250}.{n % 250}"],
        "first_seen": f"2011-10-14T{n % 24:02d}:00:00.000Z",
        "last_seen": None,
        "evidence": [Evidence(source="conn.log", locator=f"uid C{n:016d}", summary="s")],
        "details": {"dst": f"203.0.113.{n % 200}", "kind": "ip"},
    }
    base.update(kw)
    return Finding.model_validate(base)
