"""All detectors, in the order they run (later ones may read what earlier ones shared)."""

from __future__ import annotations

from duqhunt.detectors.base import Detector
from duqhunt.detectors.net.beacon import BeaconDetector
from duqhunt.detectors.net.duqu_http import DuquHttpDetector
from duqhunt.detectors.net.ioc import IocMatchDetector
from duqhunt.detectors.net.lateral import AccountSpreadDetector, LateralMovementDetector
from duqhunt.detectors.net.new_c2 import NewC2Detector
from duqhunt.detectors.net.relay import BridgeDetector, RelayEdgeDetector

NETWORK_DETECTORS: tuple[type[Detector], ...] = (
    IocMatchDetector,
    BeaconDetector,
    DuquHttpDetector,
    NewC2Detector,
    LateralMovementDetector,
    AccountSpreadDetector,
    RelayEdgeDetector,
    BridgeDetector,
)


def all_detectors() -> list[Detector]:
    return [cls() for cls in NETWORK_DETECTORS]
