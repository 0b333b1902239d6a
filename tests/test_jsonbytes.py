"""JSON bytes kept by Dalgu hold their own length, not the encoder's buffer."""

from __future__ import annotations

import sys

import orjson

from dalgu.jsonbytes import dumps


def resident_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_the_bytes_are_orjsons_and_no_larger_than_their_length() -> None:
    value = {"type": "Property", "value": "x" * 400, "observedAt": "2026-12-05T00:00:00Z"}
    encoded = dumps(value)
    assert encoded == orjson.dumps(value)
    assert sys.getsizeof(encoded) < len(encoded) + 64
    before = resident_kib()
    kept = [dumps(value) for _ in range(50_000)]  # ~22 MiB of JSON
    grown_mib = (resident_kib() - before) / 1024
    assert grown_mib < 60, grown_mib  # orjson's own results: ~200 MiB for these
    assert len(kept) == 50_000
