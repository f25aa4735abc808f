"""Compressed bombs for the tests of readers that must not trust their files.

Built in milliseconds, without ever holding the inflated bytes: after a full flush,
deflate forgets its history, so every MiB of zeros compresses to the same ~1 KB
chunk, and the stream is the prefix's chunk, that chunk repeated, and the end.
"""

from __future__ import annotations

import functools
import struct
import zlib

MEBIBYTE = bytes(2**20)


@functools.cache  # each bomb is built once per session (the CRC-32 of 2 GiB takes 0.3 s)
def deflate_zeros(prefix: bytes, zeros: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``prefix`` then ``zeros`` zero bytes, and its CRC-32."""
    assert zeros % len(MEBIBYTE) == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    chunk = compressor.compress(MEBIBYTE) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert chunk == compressor.compress(MEBIBYTE) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(zeros // len(MEBIBYTE)):
        crc = zlib.crc32(MEBIBYTE, crc)
    return head + chunk * (zeros // len(MEBIBYTE)) + compressor.flush(), crc


def gzip_zeros(prefix: bytes, zeros: int) -> bytes:
    """A gzip file (RFC 1952) holding ``prefix`` then ``zeros`` zero bytes."""
    body, crc = deflate_zeros(prefix, zeros)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, no mtime
    return header + body + struct.pack("<II", crc, (len(prefix) + zeros) % 2**32)
