"""The network family of the detector contract (:mod:`duqhunt.detectors.contract`): the hunt
context network detectors run over, and the SQL helpers they share."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from importlib import resources

from duqhunt.content import AllowList, IocPack
from duqhunt.detectors.contract import ContextDetector
from duqhunt.detectors.outputs import NetworkOutputs
from duqhunt.engines.base import Engine, Param


def load_sql(package: str, name: str) -> str:
    """A detector's SQL file, shipped as package data."""
    return resources.files(package).joinpath("sql", name).read_text(encoding="utf-8")


COUNT_PASS_ONLY = "-- count pass only"


def periodicity_sql(sessions_sql: str) -> str:
    """The periodicity scoring (sql/periodicity.sql) over a ``sessions`` relation given as SQL.

    One scoring for C&C beacons and internal relays: the inputs differ, the statistics do not.
    The scoring reads the sessions twice (counts per pair, then the rows of the pairs it
    scores); the second read gets its own copy of the SQL, ``sessions_rescan``, because DuckDB
    materialises a CTE read twice (80M rows, about 7 GB, at 100M conn rows) where reading the
    Parquet again costs one more scan. Spark runs the same text.

    Lines of the sessions SQL that end with ``-- count pass only`` are left out of the second
    read: filters that the join to the counted pairs makes redundant there.
    """
    body = load_sql("duqhunt.detectors.net", "periodicity.sql")
    sessions = sessions_sql.strip()
    rescan = rescan_sql(sessions)
    return f"WITH sessions AS (\n{sessions}\n),\nsessions_rescan AS (\n{rescan}\n),\n{body}"


def rescan_sql(sessions_sql: str) -> str:
    """The sessions SQL for a read that joins its rows to pairs already counted: the lines
    marked ``-- count pass only`` left out (see periodicity_sql)."""
    return "\n".join(
        line
        for line in sessions_sql.strip().splitlines()
        if not line.rstrip().endswith(COUNT_PASS_ONLY)
    )


@dataclass(slots=True)
class HuntContext:
    """What detectors share in one hunt: what they found for later ones and for the campaign
    goes into ``outputs``, typed (detectors/outputs.py)."""

    engine: Engine
    internal: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    packs: list[IocPack]
    allowlists: list[AllowList]
    window: tuple[float, float] | None
    internal_hosts: int
    params: dict[str, Param] = field(default_factory=dict)
    outputs: NetworkOutputs = field(default_factory=NetworkOutputs)

    def ioc_values(self, *types: str) -> set[str]:
        return {i.value for p in self.packs for i in p.indicators if i.type in types}

    def param(self, name: str, default: Param) -> Param:
        return self.params.get(name, default)


class NetworkDetector(ContextDetector[HuntContext]):
    """A network detector (DQ-NET-nnn): SQL over the canonical tables of the case."""
