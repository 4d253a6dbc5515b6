"""All detectors, in the order they run (later ones may read what earlier ones shared)."""

from __future__ import annotations

from duqhunt.detectors.base import Detector
from duqhunt.detectors.net.beacon import BeaconDetector
from duqhunt.detectors.net.duqu_http import DuquHttpDetector
from duqhunt.detectors.net.ioc import IocMatchDetector
from duqhunt.detectors.net.lateral import AccountSpreadDetector, LateralMovementDetector
from duqhunt.detectors.net.new_c2 import NewC2Detector
from duqhunt.detectors.net.relay import BridgeDetector, RelayEdgeDetector

# DQ-NET-002 ranks C&C candidates with what the request-shape (003), lateral-movement (005,
# 008) and relay (006) detectors found, so it runs after them; 004 and the bridges (007) read
# its ranking, so they run after it.
NETWORK_DETECTORS: tuple[type[Detector], ...] = (
    IocMatchDetector,
    DuquHttpDetector,
    LateralMovementDetector,
    AccountSpreadDetector,
    RelayEdgeDetector,
    BeaconDetector,
    NewC2Detector,
    BridgeDetector,
)


def all_detectors() -> list[Detector]:
    return [cls() for cls in NETWORK_DETECTORS]


def all_stages() -> set[str]:
    """Every kill-chain stage some registered detector (network, host or document) speaks to."""
    from duqhunt.detectors.doc import DOC_DETECTORS
    from duqhunt.detectors.host import host_detectors

    stages = {str(d.stage) for d in all_detectors()}
    stages |= {str(d.stage) for d in host_detectors()}
    stages |= {str(d.stage) for d in DOC_DETECTORS}
    return stages
