"""Offline registry hives: services, computer name, installed updates and the values Duqu set.

Three readers behind one small interface (:class:`RegKey` by path):

* ``python-registry``: fast (a SYSTEM hive's services in well under a second), strict;
* ``regipy``: slower but tolerant; used only when the fast reader fails on a corrupt hive;
* ``.reg`` text exports (``regedit /e``), for collections that export rather than copy hives.
  A ``;LastWrite=<ISO time>`` comment line after a key header gives that key a write time
  (a duqhunt extension that exports from real tools do not carry).

Values come back as ``str``, ``int``, ``bytes`` or ``list[str]``. Nothing is ever executed.

Work per structure is bounded: a key lists at most ``max_subkeys`` subkeys and
``max_values`` values (a crafted 'ri' index can repeat one subkey list 65,535 times, four
billion keys in a file of a megabyte), and every walk over keys stops at the file's
``Deadline``. What was cut is counted on the hive and becomes a note of its facts, so the
hive is reported as partly analysed.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from duqhunt.errors import InputError
from duqhunt.safety import Deadline
from duqhunt.sources.host.eventlog import parse_time

log = logging.getLogger(__name__)

RegValue = str | int | bytes | list[str]
MAX_SUBKEYS = 100_000  # subkeys listed per key (Component Based Servicing holds ~20,000)
MAX_VALUES = 10_000  # values read per key (a service key has about ten)
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
    clipped: int  # key reads whose subkeys or values were cut at the per-key limits
    notes: list[str]  # why the hive was not read to its end (a text export stopped early)

    def key(self, path: str) -> RegKey | None: ...

    def children(self, path: str) -> Iterator[RegKey | None]: ...


def _children_by_path(hive: Hive, path: str) -> Iterator[RegKey | None]:
    """Each subkey of ``path`` opened by its path (None for one that cannot be read)."""
    parent = hive.key(path)
    for name in parent.subkeys if parent is not None else ():
        try:
            yield hive.key(f"{path}\\{name}" if path else name)
        except Exception:  # third-party parser on one corrupt key: skip it, keep the rest
            yield None


def _capped(items: Iterable[Any], cap: int) -> tuple[list[Any], bool]:
    """At most ``cap`` items of a (possibly endless) iterable, and whether there were more."""
    out: list[Any] = []
    for item in items:
        if len(out) == cap:
            return out, True
        out.append(item)
    return out, False


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

    def __init__(self, path: Path, max_subkeys: int = MAX_SUBKEYS, max_values: int = MAX_VALUES):
        from Registry import Registry

        self._reg = Registry.Registry(str(path))
        self._notfound = Registry.RegistryKeyNotFoundException
        self._max_subkeys = max_subkeys
        self._max_values = max_values
        self.clipped = 0
        self.notes: list[str] = []

    def _subkeys(self, k: Any) -> list[Any]:
        """The subkeys of a python-registry key, capped. Its public ``subkeys()`` builds the
        whole list first; the record's generator lets the cap act before that."""
        from Registry import Registry, RegistryParse

        nk = k._nkrecord
        if nk.subkey_number() == 0:
            return []
        try:
            subs, more = _capped(nk.subkey_list().keys(), self._max_subkeys)
        except RegistryParse.RegistryStructureDoesNotExist:
            return []
        self.clipped += more
        return [Registry.RegistryKey(x) for x in subs]

    def _regkey(self, k: Any) -> RegKey:
        from Registry import Registry, RegistryParse

        try:
            ts = k.timestamp()
        except (OverflowError, ValueError):  # a write time past year 9999: no time
            ts = None
        try:
            vks, more = _capped(k._nkrecord.values_list().values(), self._max_values)
        except RegistryParse.RegistryStructureDoesNotExist:  # the key has no values
            vks, more = [], False
        self.clipped += more
        values: dict[str, RegValue] = {}
        for vk in vks:
            v = Registry.RegistryValue(vk)
            values[v.name()] = _norm(v.value())
        subs = tuple(s.name() for s in self._subkeys(k))
        return RegKey(k.name(), ts.replace(tzinfo=UTC).timestamp() if ts else None, values, subs)

    def _open(self, path: str) -> Any:
        try:
            return self._reg.open(path) if path else self._reg.root()
        except self._notfound:
            return None

    def key(self, path: str) -> RegKey | None:
        k = self._open(path)
        return None if k is None else self._regkey(k)

    def children(self, path: str) -> Iterator[RegKey | None]:
        """Each subkey of ``path`` in turn (None for one that cannot be read), in one pass over
        the parent's list: opening each by its path scans that list again, quadratic work."""
        k = self._open(path)
        for sub in self._subkeys(k) if k is not None else ():
            try:
                yield self._regkey(sub)
            except Exception:  # third-party parser on one corrupt key: skip it, keep the rest
                yield None


class _RegipyHive:
    parser = "regipy"

    def __init__(self, path: Path, max_subkeys: int = MAX_SUBKEYS, max_values: int = MAX_VALUES):
        from regipy import registry as regipy_registry

        mod: Any = regipy_registry
        self._hive: Any = mod.RegistryHive(str(path))
        self._max_subkeys = max_subkeys
        self._max_values = max_values
        self.clipped = 0
        self.notes: list[str] = []

    def key(self, path: str) -> RegKey | None:
        from regipy.exceptions import RegistryKeyNotFoundException

        try:
            k = self._hive.get_key("\\" + path if path else "\\")
        except RegistryKeyNotFoundException:
            return None
        ts = filetime_to_epoch(int(k.header.last_modified or 0))
        vals, more_values = _capped(
            k.iter_values(as_json=False, trim_values=False) or (), self._max_values
        )
        subs, more_subs = _capped(k.iter_subkeys() or (), self._max_subkeys)
        self.clipped += more_values or more_subs
        values = {str(v.name): _norm(v.value) for v in vals}
        return RegKey(str(k.name), ts, values, tuple(str(s.name) for s in subs))

    def children(self, path: str) -> Iterator[RegKey | None]:
        # regipy reads through one shared stream: the names first, then each key by path
        return _children_by_path(self, path)


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
        self.clipped = 0
        self.notes: list[str] = []

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

    def children(self, path: str) -> Iterator[RegKey | None]:
        return _children_by_path(self, path)


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


def parse_reg_text(
    path: Path, max_bytes: int, deadline: Deadline | None = None
) -> dict[str, TextHive]:
    """The hives (SYSTEM, SOFTWARE, NTUSER) of a .reg export; unknown roots are ignored.
    Past ``deadline`` the rest of the export is not read (a note on each hive says so; an
    InputError when no key was read yet)."""
    with path.open("rb") as fh:  # never more than the limit in memory, however large the file
        raw = fh.read(max_bytes + 1)
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
        if deadline is not None and deadline.spent():
            if not hives:  # nothing read: not analysed rather than an empty result
                raise InputError(str(path), f"{deadline.reason} before the first key", line=lineno)
            for hive in hives.values():
                hive.notes.append(f"{deadline.reason}: lines from {lineno} on not read")
            break
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
            current = None
            parts = full.split("\\", 2)
            if parts[0].lower() == "hkey_users" and len(parts) >= 2:
                # a user's hive under its SID (reg export HKU\<SID>); the bare [HKEY_USERS\<SID>]
                # header such an export starts with is that hive's root
                full = "HKEY_CURRENT_USER" + ("\\" + parts[2] if len(parts) == 3 else "")
            low = full.lower() + "\\"
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


def open_hive(
    path: Path, max_bytes: int, max_subkeys: int = MAX_SUBKEYS, max_values: int = MAX_VALUES
) -> tuple[Hive, Callable[[], Hive] | None, list[str]]:
    """The fast reader, plus a factory for the tolerant one to retry with when reading fails,
    plus warnings (the tolerant reader was used from the start)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(str(path), f"hive larger than {max_bytes} bytes, not read")

    def tolerant() -> Hive:
        return _RegipyHive(path, max_subkeys, max_values)

    try:
        return _PyRegistryHive(path, max_subkeys, max_values), tolerant, []
    except Exception as exc:  # third-party parser on hostile bytes: any error means "corrupt"
        log.info("%s: python-registry cannot open the hive (%s); trying regipy", path, exc)
        try:
            hive = tolerant()
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
    # why these facts are incomplete (keys cut at the per-key limits, the time budget spent)
    notes: tuple[str, ...] = ()


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


def _out_of_time(deadline: Deadline | None, notes: list[str], what: str) -> bool:
    if deadline is None or not deadline.spent():
        return False
    notes.append(f"{deadline.reason}: {what} not read")
    return True


def _services(
    h: Hive, deadline: Deadline | None, notes: list[str]
) -> tuple[str | None, tuple[ServiceRecord, ...], int]:
    cs = _control_set(h)
    cn = h.key(f"{cs}\\Control\\ComputerName\\ComputerName")
    computer = _str(cn.values.get("ComputerName")) or None if cn else None
    out: list[ServiceRecord] = []
    skipped = repeated = 0
    seen: set[str] = set()
    for k in h.children(f"{cs}\\Services"):
        if _out_of_time(deadline, notes, f"services after the first {len(out) + skipped}"):
            break
        if k is None:  # one corrupt service key: skip it, keep the others
            skipped += 1
            continue
        name = k.name
        if name.lower() in seen:  # a crafted index can list one key many times
            repeated += 1
            continue
        seen.add(name.lower())
        kp = f"{cs}\\Services\\{name}"
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
    if repeated:
        notes.append(f"{repeated} repeated service key(s) in the Services list ignored")
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


def _kbs(h: Hive, deadline: Deadline | None, notes: list[str]) -> frozenset[str]:
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
                if _out_of_time(deadline, notes, "installed updates after " + sp):
                    return frozenset(found)
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


def _interface_addresses(
    h: Hive, deadline: Deadline | None, notes: list[str]
) -> tuple[tuple[str, float | None], ...]:
    """Addresses of the host's network interfaces (Tcpip\\Parameters\\Interfaces: IPAddress
    for a static address, DhcpIPAddress for a leased one), each once, in key order."""
    base = f"{_control_set(h)}\\Services\\Tcpip\\Parameters\\Interfaces"
    out: dict[str, float | None] = {}
    try:
        for k in h.children(base):
            if _out_of_time(deadline, notes, f"network interfaces after the first {len(out)}"):
                break
            if k is None:  # one corrupt interface key costs its address, not the hive's facts
                continue
            for value in ("DhcpIPAddress", "IPAddress"):
                for addr in _str(k.values.get(value)).split():
                    if addr not in _NO_ADDRESS:
                        out.setdefault(addr, k.last_write)
    except Exception as exc:  # a damaged interfaces list costs the addresses, not the services
        notes.append(f"network interfaces not readable ({exc}); the host's addresses not read")
    return tuple(out.items())


def hive_facts(h: Hive, kind: str, deadline: Deadline | None = None) -> HiveFacts:
    """Everything the detectors need from one hive (raises whatever the reader raises); what
    the per-key limits or ``deadline`` cut is in the facts' notes."""
    notes = list(h.notes)
    if _out_of_time(deadline, notes, "the hive's keys"):
        facts = HiveFacts(kind, h.parser)
    elif kind == "SYSTEM":
        computer, services, skipped = _services(h, deadline, notes)
        facts = HiveFacts(
            kind,
            h.parser,
            computer_name=computer,
            services=services,
            skipped_keys=skipped,
            addresses=_interface_addresses(h, deadline, notes),
        )
    elif kind == "SOFTWARE":
        cv = h.key("Microsoft\\Windows NT\\CurrentVersion")
        product = _str(cv.values.get("ProductName")) if cv else None
        zones = _zone_values(h, "")
        kbs = _kbs(h, deadline, notes)
        facts = HiveFacts(kind, h.parser, zone_values=zones, kbs=kbs, product=product or None)
    elif kind == "NTUSER":
        facts = HiveFacts(kind, h.parser, zone_values=_zone_values(h, "Software\\"))
    else:
        facts = HiveFacts(kind, h.parser)
    return dataclasses.replace(facts, notes=tuple(notes)) if notes else facts


def read_hive_file(
    path: Path,
    max_bytes: int,
    deadline: Deadline | None = None,
    max_subkeys: int = MAX_SUBKEYS,
    max_values: int = MAX_VALUES,
) -> tuple[HiveFacts, list[str]]:
    """Facts of one binary hive; falls back to the tolerant reader when the fast one fails.
    Each note of the facts (a limit that cut the reading) is also a warning."""
    hive, tolerant, warnings = open_hive(path, max_bytes, max_subkeys, max_values)

    def facts_of(h: Hive) -> HiveFacts:
        facts = hive_facts(h, _guess_kind(h, path.name), deadline)
        if h.clipped:
            clip = (
                f"keys list more than the per-key limits ({max_subkeys} subkeys, {max_values} "
                "values); the rest of them not read"
            )
            facts = dataclasses.replace(facts, notes=(*facts.notes, clip))
        if facts.skipped_keys:
            warnings.append(f"{path}: {facts.skipped_keys} corrupt service key(s) skipped")
        warnings.extend(f"{path}: {n}" for n in facts.notes)
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


def read_reg_export(
    path: Path, max_bytes: int, deadline: Deadline | None = None
) -> list[HiveFacts]:
    """Facts of each hive in a .reg export; a limit that cut the reading is in their notes."""
    hives = parse_reg_text(path, max_bytes, deadline)
    return [hive_facts(h, name, deadline) for name, h in sorted(hives.items())]


def filetime_to_epoch(ft: int) -> float | None:
    """A FILETIME as epoch seconds; None for zero and for times past year 9999."""
    t = ft / 10_000_000 - _FILETIME_EPOCH
    return t if ft > 0 and t < _MAX_EPOCH else None


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
