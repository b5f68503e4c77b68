"""Just enough DER to read and write Notary's encrypted PKCS#8 key files.

``cryptography`` cannot do either side: it writes PBES2 with an HMAC-SHA256 PRF (Notary's decoder ignores the
PRF field and always uses SHA-1, so it would derive the wrong key), and it rejects Notary's plaintext, whose
PrivateKeyInfo says ``version 1`` without carrying a public key.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENCE = 0x30
INTEGER = 0x02
OCTET_STRING = 0x04
OID = 0x06


class DerError(ValueError):
    """Malformed or unexpected DER."""


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def sequence(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


def integer(n: int) -> bytes:
    if n < 0:
        raise DerError("negative integers are not needed here")
    body = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")  # room for a leading 0 sign bit
    return tlv(INTEGER, body)


def octets(b: bytes) -> bytes:
    return tlv(OCTET_STRING, b)


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


@dataclass(frozen=True)
class Node:
    tag: int
    content: bytes

    def children(self) -> list[Node]:
        if self.tag != SEQUENCE:
            raise DerError(f"expected SEQUENCE, got tag 0x{self.tag:02x}")
        return read_all(self.content)

    def as_int(self) -> int:
        if self.tag != INTEGER:
            raise DerError(f"expected INTEGER, got tag 0x{self.tag:02x}")
        return int.from_bytes(self.content, "big", signed=True)

    def as_oid(self) -> str:
        if self.tag != OID:
            raise DerError(f"expected OBJECT IDENTIFIER, got tag 0x{self.tag:02x}")
        first = self.content[0]
        parts, value = [first // 40, first % 40], 0
        for b in self.content[1:]:
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                parts.append(value)
                value = 0
        return ".".join(str(p) for p in parts)

    def as_octets(self) -> bytes:
        if self.tag != OCTET_STRING:
            raise DerError(f"expected OCTET STRING, got tag 0x{self.tag:02x}")
        return self.content


def read(data: bytes, offset: int = 0) -> tuple[Node, int]:
    """One TLV at ``offset``; returns it and the offset after it."""
    if offset + 2 > len(data):
        raise DerError("truncated DER")
    tag, first = data[offset], data[offset + 1]
    pos = offset + 2
    if first & 0x80:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise DerError("bad DER length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    else:
        length = first
    if pos + length > len(data):
        raise DerError("truncated DER")
    return Node(tag, data[pos:pos + length]), pos + length


def read_all(data: bytes) -> list[Node]:
    out, pos = [], 0
    while pos < len(data):
        node, pos = read(data, pos)
        out.append(node)
    return out
