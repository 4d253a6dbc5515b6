"""The network detectors in the order they run (later ones read what earlier ones shared), and
every family's registry in one place."""

from __future__ import annotations

from duqhunt.detectors.base import NetworkDetector
from duqhunt.detectors.contract import Detector, Registry
from duqhunt.detectors.net.beacon import BeaconDetector
from duqhunt.detectors.net.duqu_http import DuquHttpDetector
from duqhunt.detectors.net.interactive import InteractiveSessionDetector
from duqhunt.detectors.net.ioc import IocMatchDetector
from duqhunt.detectors.net.lateral import AccountSpreadDetector, LateralMovementDetector
from duqhunt.detectors.net.new_c2 import NewC2Detector
from duqhunt.detectors.net.relay import BridgeDetector, RelayEdgeDetector
from duqhunt.detectors.net.remote_admin import RemoteAdminBeforeBeaconDetector

# DQ-NET-002 ranks C&C candidates with what the request-shape (003), lateral-movement (005,
# 008) and relay (006) detectors found, so it runs after them; 004 and the bridges (007) read
# its ranking, so they run after it, as does 009 (remote administration around a C&C beacon).
# 010 (interactive sessions) reads nothing the others share.
NETWORK_DETECTORS: Registry[NetworkDetector] = Registry(
    "network",
    (
        IocMatchDetector,
        DuquHttpDetector,
        LateralMovementDetector,
        AccountSpreadDetector,
        RelayEdgeDetector,
        BeaconDetector,
        NewC2Detector,
        BridgeDetector,
        RemoteAdminBeforeBeaconDetector,
        InteractiveSessionDetector,
    ),
)


# parameters read with ctx.param outside a detector's own defaults table (name -> default)
_OTHER_PARAMS: dict[str, float] = {
    "bridge_corr_window_s": 30.0,  # relay.py
    "lateral_exec_window_s": 600.0,  # lateral.py
    "admin_tool_share": 0.2,  # lateral.py
    "rare_ua_hosts": 2.0,  # duqu_http.py (default: 2% of the internal hosts, at least 2)
    "rare_ua_max_dsts": 3.0,  # duqu_http.py
    "new_c2_band_low": 0.6,  # new_c2.py
    "new_c2_band_high": 1.6,  # new_c2.py
    "remote_admin_window_s": 3600.0,  # remote_admin.py
    "remote_admin_max_sources": 3.0,  # remote_admin.py
}


def known_params() -> dict[str, float]:
    """Every ``--param`` name a network detector reads, with its default."""
    from duqhunt.detectors.net.beacon import DEFAULTS
    from duqhunt.detectors.net.interactive import INTERACTIVE_DEFAULTS
    from duqhunt.detectors.net.relay import RELAY_DEFAULTS

    return {
        **{k: float(v) for k, v in DEFAULTS.items()},
        **RELAY_DEFAULTS,
        **INTERACTIVE_DEFAULTS,
        **_OTHER_PARAMS,
    }


def all_detectors() -> list[NetworkDetector]:
    """Every network detector, fresh for one hunt, in the order they run."""
    return NETWORK_DETECTORS.create()


def families() -> tuple[Registry[Detector], ...]:
    """Every family's registry: network, host, document. Host and document detectors are
    imported here only, so importing the network registry stays light."""
    from duqhunt.detectors.doc import DOC_DETECTORS
    from duqhunt.detectors.host import HOST_DETECTORS

    return (NETWORK_DETECTORS, HOST_DETECTORS, DOC_DETECTORS)


def all_stages() -> set[str]:
    """Every kill-chain stage some registered detector (network, host or document) speaks to."""
    return {str(d.stage) for family in families() for d in family}
