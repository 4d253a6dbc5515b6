"""One read hashes an input and counts a log's data lines (duqhunt.safety.digest_file): the
case store's key of a log, read in a thread beside the engine's reader, and the SHA-256 of a
host artefact, with a size past which it is not read. A read that fails names the file and
says it failed while hashing: in the store's thread the error is only seen once the engine's
read is done, far from where it happened.

The failing read is real: /proc/self/mem opens, and reading it at offset 0 (an address no
process maps) fails with EIO."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import pytest

from duqhunt.hostscan import scan_host
from duqhunt.safety import digest_file
from duqhunt.store import sha256_file

HOST_DATA = Path(__file__).resolve().parents[1] / "data" / "host"
MEM = Path("/proc/self/mem")


@pytest.mark.skipif(not MEM.exists(), reason="needs Linux /proc")
def test_a_read_error_names_the_file_and_the_hashing() -> None:
    with pytest.raises(OSError) as got:
        digest_file(MEM)
    assert got.value.errno == errno.EIO
    assert got.value.filename == str(MEM)
    assert "(while hashing the file)" in str(got.value)
    with pytest.raises(OSError, match=r"while counting the lines of the file.*/proc/self/mem"):
        digest_file(MEM, sha=False, lines=True)


def test_a_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(OSError) as got:
        sha256_file(tmp_path)
    assert got.value.filename == str(tmp_path)
    assert "while hashing" in str(got.value)


def test_a_file_over_the_size_asked_for_is_not_read(tmp_path: Path) -> None:
    p = tmp_path / "conn.log"
    data = b"#fields\tts\n1.0\n2.0\n"
    p.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    assert digest_file(p, max_bytes=len(data) - 1).sha256 == ""
    whole = digest_file(p, lines=True, max_bytes=len(data))
    assert (whole.sha256, whole.lines) == (want, 2)
    assert digest_file(p, chunk_bytes=3).sha256 == want == sha256_file(p)


def test_host_artefacts_carry_the_hash_of_their_bytes() -> None:
    evtx = sorted(HOST_DATA.glob("*.evtx"))[0]
    res = scan_host([evtx])
    (inp,) = [i for i in res.inputs if i.path == str(evtx)]
    assert inp.sha256 == hashlib.sha256(evtx.read_bytes()).hexdigest()
