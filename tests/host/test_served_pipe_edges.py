"""`duqhunt host` alone: a pipe served to another host (DQ-HOST-017) is a relay edge of the
report's campaign marked as host evidence; a PsExec-style console pipe family is not."""

from __future__ import annotations

from pathlib import Path

from host_builders import event_line

from duqhunt.hostscan import host_report, scan_host


def _ipc(t: str, pipe: str, client: str, computer: str, rec: int) -> str:
    return event_line(
        t,
        5145,
        {
            "ShareName": "\\\\*\\IPC$",
            "RelativeTargetName": pipe,
            "IpAddress": client,
            "AccessMask": "0x3",
            "SubjectUserName": "adm",
        },
        computer=computer,
        record=rec,
    )


def test_host_only_relay_edge_and_psexec_console(tmp_path: Path) -> None:
    lines = [
        _ipc("2024-03-05T10:00:00Z", "4f1c9a2e7b", "10.2.0.7", "WS07", 1),
        _ipc("2024-03-05T10:10:00Z", "4f1c9a2e7b", "10.2.0.7", "WS07", 2),
        # a renamed PsExec: the service pipe and its per-client console pipes
        _ipc("2024-03-05T11:00:00Z", "blabla", "10.2.0.9", "WS07", 3),
        _ipc("2024-03-05T11:00:01Z", "blabla-PC9-3704-stdin", "10.2.0.9", "WS07", 4),
        _ipc("2024-03-05T11:00:01Z", "blabla-PC9-3704-stdout", "10.2.0.9", "WS07", 5),
    ]
    p = tmp_path / "Security.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = host_report(scan_host([p]), "2024-03-05T12:00:00Z", "2024-03-05T12:00:01Z")
    pipes = {f.details["pipe"]: f for f in doc.findings if f.detector == "DQ-HOST-017"}
    assert set(pipes) == {"4f1c9a2e7b", "blabla"}
    edges = doc.campaign.relay_edges
    assert len(edges) == 1, edges
    e = edges[0]
    assert (e["src"], e["dst"], e["pipe"], e["sources"]) == (
        "10.2.0.7",
        "WS07",
        "4f1c9a2e7b",
        ["host"],
    )
    ws07 = pipes["4f1c9a2e7b"].host_ids
    assert ws07 and e["host_ids"] == [None, ws07[0]]
    assert e["findings"] == [pipes["4f1c9a2e7b"].id]


def test_host_only_relay_gives_roles_and_names_the_serving_process(tmp_path: Path) -> None:
    """Sysmon 17/18 and a 5145 on IPC$ of a non-standard pipe: the relay seen from the host.
    The serving machine is a relay in campaign.hosts and on its identity, its client
    infected; the finding names the process that created the pipe (Sysmon 17)."""
    sysmon = "Microsoft-Windows-Sysmon/Operational"
    lines = [
        event_line(
            "2024-03-05T09:00:00Z",
            17,
            {"PipeName": "\\\\7ab3f1", "Image": "C:\\Windows\\System32\\lsass.exe"},
            channel=sysmon,
            computer="WS07",
            record=1,
        ),
        event_line(
            "2024-03-05T10:00:00Z",
            18,
            {"PipeName": "\\\\7ab3f1", "Image": "System"},
            channel=sysmon,
            computer="WS07",
            record=2,
        ),
        _ipc("2024-03-05T10:00:00Z", "7ab3f1", "10.2.0.7", "WS07", 3),
    ]
    p = tmp_path / "events.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = host_report(scan_host([p]), "2024-03-05T12:00:00Z", "2024-03-05T12:00:01Z")
    (f,) = [f for f in doc.findings if f.detector == "DQ-HOST-017"]
    assert f.details["server_image"] == "C:\\Windows\\System32\\lsass.exe"
    assert any("created by" in e.summary for e in f.evidence)
    (edge,) = doc.campaign.relay_edges
    assert edge["sources"] == ["host"] and edge["src"] == "10.2.0.7"
    roles = {h.ip: h.roles for h in doc.campaign.hosts}
    assert roles["10.2.0.7"] == ["infected"]
    server = next(h for h in doc.hosts if f.host_ids[0] == h.id)
    assert "relay" in server.roles and "infected" in server.roles
