"""Host detectors (DQ-HOST-nnn): triage folders, hives, event logs, PE files, YARA."""

from __future__ import annotations

from duqhunt.detectors.contract import Registry
from duqhunt.detectors.host.base import HostDetector
from duqhunt.detectors.host.credentials import ProcessTampering
from duqhunt.detectors.host.events import LateralMovementSessions, ScheduledTasks, ServiceInstalls
from duqhunt.detectors.host.execution import AlternateCredentials, RemoteExecution, ServedPipes
from duqhunt.detectors.host.family import CodeFamilies
from duqhunt.detectors.host.files import (
    DuquTempFiles,
    OrphanPnf,
    PeAnomalies,
    RevokedSigner,
    VendorMasquerade,
)
from duqhunt.detectors.host.persistence import LocalPersistence
from duqhunt.detectors.host.rdp import RdpLateralMovement
from duqhunt.detectors.host.registry import DuquServices, FontPosture, ZoneMarker
from duqhunt.detectors.host.sigma import SigmaMatches
from duqhunt.detectors.host.yarascan import YaraMatches

# in id order; a new host detector is one more class here
HOST_DETECTORS: Registry[HostDetector] = Registry(
    "host",
    (
        OrphanPnf,
        DuquTempFiles,
        VendorMasquerade,
        RevokedSigner,
        PeAnomalies,
        DuquServices,
        ZoneMarker,
        FontPosture,
        LateralMovementSessions,
        ServiceInstalls,
        ScheduledTasks,
        YaraMatches,
        SigmaMatches,
        CodeFamilies,
        RemoteExecution,
        AlternateCredentials,
        ServedPipes,
        LocalPersistence,
        ProcessTampering,
        RdpLateralMovement,
    ),
)


def host_detectors() -> list[HostDetector]:
    """Every host detector, in id order, fresh for one scan."""
    return HOST_DETECTORS.create()


__all__ = ["HOST_DETECTORS", "HostDetector", "host_detectors"]
