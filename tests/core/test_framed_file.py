"""The framed file (magic, uint32 header length, JSON header, payload): written atomically, and every
damage to what is read back one typed line, never a crash or a wrong header."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from core.framed_file import MAX_HEADER_BYTES, FramedFileError, read_framed, write_framed

MAGIC = b"TSTEST01"
PAYLOAD = bytes(range(256)) * 3


def old_framing(magic: bytes, header: bytes, payload: bytes) -> bytes:
    """The bytes the caches wrote before they shared this module: spelled out here, not imported."""
    return magic + struct.pack("<I", len(header)) + header + payload


def written(tmp_path: Path, header: dict | None = None) -> bytes:
    header = {"sha256": hashlib.sha256(PAYLOAD).hexdigest(), "info": {"n": 1}} if header is None else header
    return write_framed(tmp_path / "entry.bin", MAGIC, header, PAYLOAD).read_bytes()


def test_what_is_written_reads_back(tmp_path: Path) -> None:
    framed = read_framed(written(tmp_path), MAGIC)
    assert framed.header == {"sha256": hashlib.sha256(PAYLOAD).hexdigest(), "info": {"n": 1}}
    assert bytes(framed.checked_payload(len(PAYLOAD))) == PAYLOAD
    assert [p.name for p in tmp_path.iterdir()] == ["entry.bin"]  # no temporary left beside it


def test_the_layout_is_byte_for_byte_the_one_the_caches_always_wrote(tmp_path: Path) -> None:
    header = {"b": [1, 2], "a": "é", "sha256": "00"}
    assert written(tmp_path, header) == old_framing(MAGIC, json.dumps(header).encode("utf-8"), PAYLOAD)
    sorted_file = write_framed(tmp_path / "sorted.bin", MAGIC, header, PAYLOAD, sort_keys=True).read_bytes()
    assert sorted_file == old_framing(MAGIC, json.dumps(header, sort_keys=True).encode("utf-8"), PAYLOAD)


def test_every_cut_of_a_file_is_damage(tmp_path: Path) -> None:
    """Cut inside the magic, inside the length, inside the header, at the payload's start and inside it."""
    data = written(tmp_path)
    (length,) = struct.unpack_from("<I", data, len(MAGIC))
    header_end = len(MAGIC) + 4 + length
    expected = {0: "truncated", 3: "truncated", len(MAGIC): "truncated", len(MAGIC) + 2: "truncated",
                len(MAGIC) + 4: "truncated", header_end - 1: "truncated", header_end: "payload is 0 bytes",
                header_end + 10: "payload is 10 bytes", len(data) - 1: f"payload is {len(PAYLOAD) - 1} bytes"}
    for cut, message in expected.items():
        with pytest.raises(FramedFileError, match=message):
            read_framed(data[:cut], MAGIC).checked_payload(len(PAYLOAD))


def test_a_payload_shorter_or_longer_than_declared_or_changed_is_damage(tmp_path: Path) -> None:
    data = written(tmp_path)
    with pytest.raises(FramedFileError, match=f"the payload is {len(PAYLOAD)} bytes, the header declares {len(PAYLOAD) + 1}"):
        read_framed(data, MAGIC).checked_payload(len(PAYLOAD) + 1)
    with pytest.raises(FramedFileError, match=f"the payload is {len(PAYLOAD) + 1} bytes"):
        read_framed(data + b"\0", MAGIC).checked_payload(len(PAYLOAD))
    flipped = bytearray(data)
    flipped[-1] ^= 1
    with pytest.raises(FramedFileError, match="does not match its SHA-256"):
        read_framed(bytes(flipped), MAGIC).checked_payload(len(PAYLOAD))


def test_another_kinds_magic_is_damage_named_in_the_message(tmp_path: Path) -> None:
    data = written(tmp_path)
    with pytest.raises(FramedFileError, match=r"starts with b'TSTEST02', expected b'TSTEST01'"):
        read_framed(b"TSTEST02" + data[len(MAGIC):], MAGIC)
    with pytest.raises(FramedFileError, match="starts with b'XX'"):
        read_framed(b"XX", MAGIC)  # too short to be whole, but already not this kind


def test_a_header_length_over_the_limit_is_refused_before_the_header_is_read(tmp_path: Path) -> None:
    huge = b'"' + b"x" * MAX_HEADER_BYTES + b'"'  # a whole header, just too long
    with pytest.raises(FramedFileError, match=f"a header length of {len(huge)} bytes is over the limit"):
        read_framed(old_framing(MAGIC, huge, b""), MAGIC)
    with pytest.raises(FramedFileError, match="a header length of 4294967295 bytes is over the limit"):
        read_framed(MAGIC + b"\xff\xff\xff\xff{}", MAGIC)
    with pytest.raises(ValueError, match=f"at most {MAX_HEADER_BYTES} bytes"):
        write_framed(tmp_path / "never-written.bin", MAGIC, {"x": "y" * MAX_HEADER_BYTES}, b"")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("header", "message"), [
    (b"[1, 2]", "the header is a JSON list, not an object"),
    (b'"text"', "the header is a JSON str, not an object"),
    (b"null", "the header is a JSON NoneType, not an object"),
    (b"{bad", "the header is not valid JSON"),
    (b'{"a": "\xff"}', "the header is not valid JSON"),
    (b"[" * 100000 + b"]" * 100000, "the header is nested too deeply"),
    (b'{"shape": [Infinity, 2]}', r"not finite \(Infinity\)"),
    (b'{"shape": [NaN]}', r"not finite \(NaN\)"),
    (b'{"shape": [1e400]}', r"not finite \(1e400\)"),
    (b'{"shape": [' + b"9" * 5000 + b"]}", "the header is not valid JSON"),
], ids=["list", "string", "null", "bad-json", "not-utf8", "nested", "infinity", "nan", "overflowing-float", "5000-digits"])
def test_a_header_that_is_not_a_plain_json_object_is_damage(header: bytes, message: str) -> None:
    with pytest.raises(FramedFileError, match=message) as caught:
        read_framed(old_framing(MAGIC, header, PAYLOAD), MAGIC, path="/cache/entry.bin")
    assert str(caught.value).startswith("/cache/entry.bin: the header") and "\n" not in str(caught.value)


def test_a_header_with_a_number_that_would_not_read_back_is_not_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        write_framed(tmp_path / "nan.bin", MAGIC, {"x": float("nan")}, b"")
    assert list(tmp_path.iterdir()) == []


def test_the_payload_is_a_view_of_the_bytes_read_not_a_copy(tmp_path: Path) -> None:
    data = write_framed(tmp_path / "a.bin", MAGIC, {"sha256": "-"}, np.arange(4, dtype="<f2").tobytes()).read_bytes()
    payload = read_framed(data, MAGIC).payload
    assert payload.obj is data
    np.testing.assert_array_equal(np.frombuffer(payload, dtype="<f2"), np.arange(4))
