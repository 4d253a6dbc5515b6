"""Synthetic telemetry of a Duqu-class campaign, for the demo and the tests (telemetry only)."""

from duqhunt.simulate.campaign import (
    DEFAULT_PIPE_NAME,
    DUQU_USER_AGENT,
    KNOWN_C2_IP,
    NEW_C2_IP,
    SimConfig,
    simulate,
)

__all__ = [
    "DEFAULT_PIPE_NAME",
    "DUQU_USER_AGENT",
    "KNOWN_C2_IP",
    "NEW_C2_IP",
    "SimConfig",
    "simulate",
]
