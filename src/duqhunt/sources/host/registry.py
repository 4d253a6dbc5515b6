"""Offline registry hives: services, computer name, installed updates and the values Duqu set.

Three readers behind one small interface (:class:`RegKey` by path):

* ``python-registry``: fast (a SYSTEM hive's services in well under a second), strict;
* ``regipy``: slower but tolerant; used only when the fast reader fails on a corrupt hive;
* ``.reg`` text exports (``regedit /e``), for collections that export rather than copy hives.
  A ``;LastWrite=<ISO time>`` comment line after a key header gives that key a write time
  (a duqhunt extension that exports from real tools do not carry).

Values come back as ``str``, ``int``, ``bytes`` or ``list[str]``. Nothing is ever executed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from duqhunt.errors import InputError
from duqhunt.sources.host.eventlog import parse_time

log = logging.getLogger(__name__)

RegValue = str | int | bytes | list[str]
MAX_SUBKEYS = 200_000
_FILETIME_EPOCH = 11644473600
_MAX_EPOCH = 253402214400.0  # 9999-12-31: later write times are corrupt and have no date


@dataclass(frozen=True, slots=True)
class RegKey:
    name: str
    last_write: float | None
    values: dict[str, RegValue]
    subkeys: tuple[str, ...]


class Hive(Protocol):
    parser: str

    def key(self, path: str) -> RegKey | None: ...


def _norm(v: Any) -> RegValue:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, str, bytes)):
        return v
    if isinstance(v, list):
        return [str(x) for x in v]
    if v is None:
        return b""
    return str(v)


class _PyRegistryHive:
    parser = "python-registry"

    def __init__(self, path: Path) -> None:
        from Registry import Registry

        self._reg = Registry.Registry(str(path))
        self._notfound = Registry.RegistryKeyNotFoundException

    def key(self, path: str) -> RegKey | None:
        try:
            k = self._reg.open(path) if path else self._reg.root()
        except self._notfound:
            return None
        try:
            ts = k.timestamp()
        except (OverflowError, ValueError):  # a write time past year 9999: no time
            ts = None
        values: dict[str, RegValue] = {}
        for v in k.values():
            values[v.name()] = _norm(v.value())
        subs = tuple(s.name() for s in k.subkeys())
        return RegKey(k.name(), ts.replace(tzinfo=UTC).timestamp() if ts else None, values, subs)


class _RegipyHive:
    parser = "regipy"

    def __init__(self, path: Path) -> None:
        from regipy import registry as regipy_registry

        mod: Any = regipy_registry
        self._hive: Any = mod.RegistryHive(str(path))

    def key(self, path: str) -> RegKey | None:
        from regipy.exceptions import RegistryKeyNotFoundException

        try:
            k = self._hive.get_key("\\" + path if path else "\\")
        except RegistryKeyNotFoundException:
            return None
        ts = filetime_to_epoch(int(k.header.last_modified or 0))
        values = {
            str(v.name): _norm(v.value) for v in k.iter_values(as_json=False, trim_values=False)
        }
        subs = tuple(str(s.name) for s in k.iter_subkeys())
        return RegKey(str(k.name), ts, values, subs)


_HIVE_ROOTS = (
    ("hkey_local_machine\\system\\", "SYSTEM"),
    ("hkey_local_machine\\software\\", "SOFTWARE"),
    ("hkey_current_user\\", "NTUSER"),
)


@dataclass(slots=True)
class _TextKey:
    last_write: float | None = None
    values: dict[str, RegValue] = field(default_factory=dict)
    subkeys: set[str] = field(default_factory=set)


class TextHive:
    """One hive's keys out of a .reg export."""

    parser = "reg-text"

    def __init__(self, name: str) -> None:
        self.name = name
        self._keys: dict[str, _TextKey] = {"": _TextKey()}

    def ensure(self, path: str) -> _TextKey:
        """The key at ``path``, created with its missing parents (iteratively: a hostile
        export may name a key thousands of levels deep)."""
        missing: list[str] = []
        cur = path
        while cur.lower() not in self._keys:
            missing.append(cur)
            cur = cur.rpartition("\\")[0]
        for p in reversed(missing):
            self._keys[p.rpartition("\\")[0].lower()].subkeys.add(p.rpartition("\\")[2])
            self._keys[p.lower()] = _TextKey()
        return self._keys[path.lower()]

    def key(self, path: str) -> RegKey | None:
        k = self._keys.get(path.lower())
        if k is None:
            return None
        return RegKey(
            path.rpartition("\\")[2], k.last_write, dict(k.values), tuple(sorted(k.subkeys))
        )


def _hex_bytes(text: str) -> bytes:
    parts = [p for p in text.replace("\\", "").replace(" ", "").split(",") if p]
    return bytes(int(p, 16) for p in parts)


def _reg_value(raw: str) -> RegValue:
    if raw.startswith('"'):
        body = raw[1:-1] if raw.endswith('"') else raw[1:]
        return body.replace('\\"', '"').replace("\\\\", "\\")
    low = raw.lower()
    if low.startswith("dword:"):
        return int(raw[6:], 16)
    if low.startswith("qword:"):
        return int(raw[6:], 16)
    m = re.match(r"hex(?:\((\w+)\))?:(.*)$", raw, re.I | re.S)
    if m:
        data = _hex_bytes(m.group(2))
        kind = (m.group(1) or "3").lower()
        if kind in ("2", "1"):
            return data.decode("utf-16-le", errors="replace").rstrip("\x00")
        if kind == "7":
            return [s for s in data.decode("utf-16-le", errors="replace").split("\x00") if s]
        if kind == "b" and len(data) == 8:
            return int.from_bytes(data, "little")
        if kind == "4" and len(data) == 4:
            return int.from_bytes(data, "little")
        return data
    return raw


_VALUE_RE = re.compile(r'^(@|"(?:[^"\\]|\\.)*")=(.*)$', re.S)


def parse_reg_text(path: Path, max_bytes: int) -> dict[str, TextHive]:
    """The hives (SYSTEM, SOFTWARE, NTUSER) of a .reg export; unknown roots are ignored."""
    raw = path.read_bytes()[: max_bytes + 1]
    if len(raw) > max_bytes:
        raise InputError(str(path), f"larger than {max_bytes} bytes")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16", errors="replace")
    else:
        text = raw.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if not lines or not lines[0].strip().lower().startswith(
        ("windows registry editor", "regedit4")
    ):
        raise InputError(
            str(path), "not a .reg export (no 'Windows Registry Editor' header)", line=1
        )
    hives: dict[str, TextHive] = {}
    current: _TextKey | None = None
    pending: list[str] = []  # a value continued over lines, joined once (linear time)
    for lineno, raw_line in enumerate(lines[1:], 2):
        line = raw_line.strip() if pending else raw_line
        if line.endswith("\\") and (pending or not line.startswith("[")):
            pending.append(line[:-1])
            continue
        if pending:
            pending.append(line)
            line = "".join(pending)
            pending = []
        s = line.strip()
        if not s:
            continue
        if s.startswith(";"):
            m = re.match(r";\s*LastWrite=(\S+)", s)
            if m and current is not None:
                current.last_write = parse_time(m.group(1))
            continue
        if s.startswith("["):
            if not s.endswith("]"):
                raise InputError(str(path), "unterminated key header", line=lineno)
            full = s[1:-1]
            if full.startswith("-"):
                current = None
                continue
            low = full.lower() + "\\"
            current = None
            if low.startswith("hkey_users\\") and low.count("\\") >= 2:
                low = "hkey_current_user\\" + low.split("\\", 2)[2]
                full = (
                    "HKEY_CURRENT_USER\\" + full.split("\\", 2)[2]
                    if full.count("\\") >= 2
                    else full
                )
            for prefix, hive_name in _HIVE_ROOTS:
                if low.startswith(prefix) or low == prefix:
                    rest = full[len(prefix) :] if len(full) >= len(prefix) else ""
                    hive = hives.setdefault(hive_name, TextHive(hive_name))
                    current = hive.ensure(rest.rstrip("\\"))
                    break
            continue
        if current is None:
            continue
        m = _VALUE_RE.match(s)
        if not m:
            raise InputError(str(path), "value line not understood", line=lineno)
        name = (
            "" if m.group(1) == "@" else m.group(1)[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        )
        try:
            current.values[name] = _reg_value(m.group(2).strip())
        except ValueError as exc:
            raise InputError(str(path), f"bad value data: {exc}", line=lineno) from exc
    return hives


def open_hive(path: Path, max_bytes: int) -> tuple[Hive, Callable[[], Hive] | None, list[str]]:
    """The fast reader, plus a factory for the tolerant one to retry with when reading fails,
    plus warnings (the tolerant reader was used from the start)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(str(path), f"hive larger than {max_bytes} bytes, not read")

    def tolerant() -> Hive:
        return _RegipyHive(path)

    try:
        return _PyRegistryHive(path), tolerant, []
    except Exception as exc:  # third-party parser on hostile bytes: any error means "corrupt"
        log.info("%s: python-registry cannot open the hive (%s); trying regipy", path, exc)
        try:
            hive = _RegipyHive(path)
        except Exception as exc2:  # same reason as above
            raise InputError(str(path), f"not a readable registry hive: {exc2}", offset=0) from exc2
        return hive, None, [f"{path}: python-registry failed ({exc}); read with regipy instead"]


# --- what the detectors read out of hives -------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    name: str
    image_path: str
    type: int | None
    start: int | None
    display_name: str
    last_write: float | None
    value_names: tuple[str, ...]
    key_path: str

    @property
    def kernel(self) -> bool:
        return self.type is not None and self.type in (1, 2)


@dataclass(frozen=True, slots=True)
class ZoneValue:
    key: str
    value: str
    size: int
    last_write: float | None


@dataclass(frozen=True, slots=True)
class HiveFacts:
    kind: str  # SYSTEM, SOFTWARE, NTUSER, other
    parser: str
    computer_name: str | None = None
    services: tuple[ServiceRecord, ...] = ()
    zone_values: tuple[ZoneValue, ...] = ()
    kbs: frozenset[str] = frozenset()
    product: str | None = None
    font_workaround_hint: str | None = None
    skipped_keys: int = 0
    # the host's own addresses (SYSTEM: Tcpip interfaces, static and DHCP-assigned), with the
    # interface key's last write time
    addresses: tuple[tuple[str, float | None], ...] = ()


def _int(v: RegValue | None) -> int | None:
    return v if isinstance(v, int) else None


def _str(v: RegValue | None) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return " ".join(v)
    return ""


def _control_set(h: Hive) -> str:
    sel = h.key("Select")
    cur = _int(sel.values.get("Current")) if sel else None
    if cur:
        return f"ControlSet{cur:03d}"
    for cand in ("CurrentControlSet", "ControlSet001"):
        if h.key(cand) is not None:
            return cand
    return "ControlSet001"


def _services(h: Hive) -> tuple[str | None, tuple[ServiceRecord, ...], int]:
    cs = _control_set(h)
    cn = h.key(f"{cs}\\Control\\ComputerName\\ComputerName")
    computer = _str(cn.values.get("ComputerName")) or None if cn else None
    root = h.key(f"{cs}\\Services")
    out: list[ServiceRecord] = []
    if root is None:
        return computer, (), 0
    skipped = 0
    for name in root.subkeys[:MAX_SUBKEYS]:
        kp = f"{cs}\\Services\\{name}"
        try:
            k = h.key(kp)
        except Exception:  # one corrupt service key: skip it, keep the others
            skipped += 1
            continue
        if k is None:
            continue
        out.append(
            ServiceRecord(
                name=name,
                image_path=_str(k.values.get("ImagePath")),
                type=_int(k.values.get("Type")),
                start=_int(k.values.get("Start")),
                display_name=_str(k.values.get("DisplayName")),
                last_write=k.last_write,
                value_names=tuple(sorted(k.values)) + tuple(f"{s}\\" for s in k.subkeys),
                key_path=kp,
            )
        )
    return computer, tuple(out), skipped


ZONES4 = "Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Zones\\4"


def _zone_values(h: Hive, prefix: str) -> tuple[ZoneValue, ...]:
    k = h.key(prefix + ZONES4)
    if k is None:
        return ()
    out = []
    for name, v in k.values.items():
        size = len(v) if isinstance(v, (bytes, str)) else 4
        out.append(ZoneValue(prefix + ZONES4, name, size, k.last_write))
    return tuple(out)


_KB_RE = re.compile(r"KB(\d{6,7})", re.I)


def _kbs(h: Hive) -> frozenset[str]:
    found: set[str] = set()
    for kp in (
        "Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages",
        "Microsoft\\Windows NT\\CurrentVersion\\HotFix",
    ):
        k = h.key(kp)
        if k is not None:
            for s in k.subkeys:
                found.update(f"KB{m}" for m in _KB_RE.findall(s))
    upd = h.key("Microsoft\\Updates")
    if upd is not None:
        for prod in upd.subkeys[:64]:
            pk = h.key(f"Microsoft\\Updates\\{prod}")
            for sp in pk.subkeys[:64] if pk else ():
                sk = h.key(f"Microsoft\\Updates\\{prod}\\{sp}")
                for s in sk.subkeys if sk else ():
                    found.update(f"KB{m}" for m in _KB_RE.findall(s))
    return frozenset(found)


def _guess_kind(h: Hive, name: str) -> str:
    low = name.lower()
    if low.startswith("system") or h.key("Select") is not None:
        return "SYSTEM"
    if low.startswith("software") or h.key("Microsoft\\Windows NT\\CurrentVersion") is not None:
        return "SOFTWARE"
    if low.startswith("ntuser") or h.key("Software\\Microsoft") is not None:
        return "NTUSER"
    return "other"


_NO_ADDRESS = frozenset({"", "0.0.0.0", "255.255.255.255"})


def _interface_addresses(h: Hive) -> tuple[tuple[str, float | None], ...]:
    """Addresses of the host's network interfaces (Tcpip\\Parameters\\Interfaces: IPAddress
    for a static address, DhcpIPAddress for a leased one), each once, in key order."""
    base = f"{_control_set(h)}\\Services\\Tcpip\\Parameters\\Interfaces"
    root = h.key(base)
    if root is None:
        return ()
    out: dict[str, float | None] = {}
    for guid in root.subkeys[:MAX_SUBKEYS]:
        try:
            k = h.key(f"{base}\\{guid}")
        except Exception:  # one corrupt interface key costs its address, not the hive's facts
            continue
        if k is None:
            continue
        for value in ("DhcpIPAddress", "IPAddress"):
            for addr in _str(k.values.get(value)).split():
                if addr not in _NO_ADDRESS:
                    out.setdefault(addr, k.last_write)
    return tuple(out.items())


def hive_facts(h: Hive, kind: str) -> HiveFacts:
    """Everything the detectors need from one hive (raises whatever the reader raises)."""
    if kind == "SYSTEM":
        computer, services, skipped = _services(h)
        return HiveFacts(
            kind,
            h.parser,
            computer_name=computer,
            services=services,
            skipped_keys=skipped,
            addresses=_interface_addresses(h),
        )
    if kind == "SOFTWARE":
        cv = h.key("Microsoft\\Windows NT\\CurrentVersion")
        product = _str(cv.values.get("ProductName")) if cv else None
        return HiveFacts(
            kind, h.parser, zone_values=_zone_values(h, ""), kbs=_kbs(h), product=product or None
        )
    if kind == "NTUSER":
        return HiveFacts(kind, h.parser, zone_values=_zone_values(h, "Software\\"))
    return HiveFacts(kind, h.parser)


def read_hive_file(path: Path, max_bytes: int) -> tuple[HiveFacts, list[str]]:
    """Facts of one binary hive; falls back to the tolerant reader when the fast one fails."""
    hive, tolerant, warnings = open_hive(path, max_bytes)

    def facts_of(h: Hive) -> HiveFacts:
        facts = hive_facts(h, _guess_kind(h, path.name))
        if facts.skipped_keys:
            warnings.append(f"{path}: {facts.skipped_keys} corrupt service key(s) skipped")
        return facts

    try:
        return facts_of(hive), warnings
    except Exception as exc:  # a corrupt hive can fail anywhere inside the fast reader
        if tolerant is None:
            raise InputError(str(path), f"hive not readable: {exc}") from exc
        warnings.append(f"{path}: python-registry failed ({exc}); read with regipy instead")
    try:
        return facts_of(tolerant()), warnings
    except Exception as exc:  # the tolerant reader failed too: not analysed
        raise InputError(
            str(path), f"hive not readable by python-registry or regipy: {exc}"
        ) from exc


def read_reg_export(path: Path, max_bytes: int) -> list[HiveFacts]:
    return [hive_facts(h, name) for name, h in sorted(parse_reg_text(path, max_bytes).items())]


def filetime_to_epoch(ft: int) -> float | None:
    """A FILETIME as epoch seconds; None for zero and for times past year 9999."""
    t = ft / 10_000_000 - _FILETIME_EPOCH
    return t if ft > 0 and t < _MAX_EPOCH else None


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
