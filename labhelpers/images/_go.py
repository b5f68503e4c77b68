"""The few Go standard-library behaviours the kubelet's image code leans on, reproduced exactly.

Python's base64, urllib and fnmatch all disagree with Go at the edges (padding, '\\n' handling, host
validation, ``[^...]`` classes), and those edges decide whether a pull secret matches or fails, so the
kubelet ports use these instead.
"""

from __future__ import annotations

import base64
import ipaddress
import unicodedata

# --- strconv.Quote (%q) ----------------------------------------------------------------------------------

_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def quote(s: str) -> str:
    """Go's ``%q``: printable Unicode kept, everything else escaped the way strconv.Quote does."""
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == " " or (cp > 0x20 and unicodedata.category(ch)[0] in "LMNPS"):
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif cp < 0x20 or cp == 0x7F:
            out.append(f"\\x{cp:02x}")
        elif 0xDC80 <= cp <= 0xDCFF:  # a surrogateescape'd byte of invalid UTF-8
            out.append(f"\\x{cp - 0xDC00:02x}")
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


# --- strings.TrimSpace -------------------------------------------------------------------------------------

_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def trim_space(s: str) -> str:
    """strings.TrimSpace: Unicode White_Space only (Python's strip() also eats \\x1c-\\x1f)."""
    return s.strip(_GO_SPACE)


# --- encoding/base64 ------------------------------------------------------------------------------------------

_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_MAP = {ord(c): i for i, c in enumerate(_B64_ALPHABET)}


class Base64Error(ValueError):
    """base64.CorruptInputError."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def b64decode(s: str, *, padded: bool) -> bytes:
    """``base64.StdEncoding`` (padded) / ``RawStdEncoding`` DecodeString, non-strict, with Go's error offsets.

    '\\r' and '\\n' are skipped anywhere; any other foreign byte (a space included) is an error.
    """
    src = s.encode("utf-8", "surrogateescape")
    out = bytearray()
    si = 0
    while si < len(src):
        si, chunk = _decode_quantum(src, si, padded)
        out += chunk
    return bytes(out)


def _decode_quantum(src: bytes, si: int, padded: bool) -> tuple[int, bytes]:
    """One 4-symbol quantum (base64.go decodeQuantum); raises Base64Error, returns (next index, bytes)."""
    dbuf = [0, 0, 0, 0]
    dlen = 4
    j = 0
    trailing: int | None = None
    while j < 4:
        if si == len(src):
            if j == 0:
                return si, b""
            if j == 1 or padded:
                raise Base64Error(si - j)
            dlen = j
            break
        c = src[si]
        si += 1
        v = _B64_MAP.get(c)
        if v is not None:
            dbuf[j] = v
            j += 1
            continue
        if c in (0x0A, 0x0D):
            continue
        if not padded or c != 0x3D:  # '='
            raise Base64Error(si - 1)
        # padding reached
        if j in (0, 1):
            raise Base64Error(si - 1)
        if j == 2:
            while si < len(src) and src[si] in (0x0A, 0x0D):
                si += 1
            if si == len(src):
                raise Base64Error(len(src))
            if src[si] != 0x3D:
                raise Base64Error(si - 1)
            si += 1
        while si < len(src) and src[si] in (0x0A, 0x0D):
            si += 1
        if si < len(src):
            trailing = si
        dlen = j
        break
    val = dbuf[0] << 18 | dbuf[1] << 12 | dbuf[2] << 6 | dbuf[3]
    chunk = bytes([(val >> 16) & 0xFF, (val >> 8) & 0xFF, val & 0xFF])[: dlen - 1]
    if trailing is not None:
        raise Base64Error(trailing)
    return si, chunk


def b64encode(data: bytes) -> str:
    """base64.StdEncoding.EncodeToString (padded; identical to Python's)."""
    return base64.b64encode(data).decode("ascii")


# --- net/url.Parse (host and path only) -------------------------------------------------------------------


class URLError(ValueError):
    """A url.Parse failure (the text after ``parse "<url>": ``)."""


_HOST_OK = set("!$&'()*+,;=:[]<>\"-_.~")


def _is_hex(c: str) -> bool:
    return c in "0123456789abcdefABCDEF"


def _unescape(s: str, mode: str) -> str:
    """url.unescape for modes 'host', 'zone', 'path', 'userinfo', 'fragment' (no '+' handling needed)."""
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "%":
            if i + 2 >= n or not _is_hex(s[i + 1]) or not _is_hex(s[i + 2]):
                raise URLError(f"invalid URL escape {quote(s[i : i + 3])}")
            if mode == "host" and int(s[i + 1], 16) < 8 and s[i : i + 3] != "%25":
                raise URLError(f"invalid URL escape {quote(s[i : i + 3])}")
            if mode == "zone":
                v = chr(int(s[i + 1 : i + 3], 16))
                if s[i : i + 3] != "%25" and v != " " and _host_should_escape(v):
                    raise URLError(f"invalid URL escape {quote(s[i : i + 3])}")
            i += 3
        else:
            if mode in ("host", "zone") and ord(c) < 0x80 and _host_should_escape(c):
                raise URLError(f"invalid character {quote(c)} in host name")
            i += 1
    if "%" not in s:
        return s
    raw = bytearray()
    i = 0
    while i < n:
        if s[i] == "%":
            raw.append(int(s[i + 1 : i + 3], 16))
            i += 3
        else:
            raw += s[i].encode("utf-8", "surrogateescape")
            i += 1
    return raw.decode("utf-8", "surrogateescape")


def _host_should_escape(c: str) -> bool:
    return not (c.isascii() and (c.isalnum() or c in _HOST_OK))


def _valid_optional_port(port: str) -> bool:
    if port == "":
        return True
    return port[0] == ":" and all("0" <= c <= "9" for c in port[1:])


def _parse_host(host: str) -> str:
    """url.parseHost as of Go 1.24.8/1.25.2 (bracketed hosts must be IPv6 literals)."""
    open_idx = host.rfind("[")
    if open_idx > 0:
        raise URLError("invalid IP-literal")
    if open_idx == 0:
        close_idx = host.rfind("]")
        if close_idx < 0:
            raise URLError("missing ']' in host")
        colon_port = host[close_idx + 1 :]
        if not _valid_optional_port(colon_port):
            raise URLError(f"invalid port {quote(colon_port)} after host")
        hostname = host[1:close_idx]
        zone = hostname.find("%25")
        if zone >= 0:
            unescaped = _unescape(hostname[:zone], "host") + _unescape(hostname[zone:], "zone")
        else:
            unescaped = _unescape(hostname, "host")
        try:
            addr = ipaddress.ip_address(unescaped)
        except ValueError as e:
            raise URLError(f"invalid host: {e}") from None
        if addr.version == 4:
            raise URLError("invalid IP-literal")
        return "[" + unescaped + "]" + colon_port
    i = host.rfind(":")
    if i != -1 and not _valid_optional_port(host[i:]):
        raise URLError(f"invalid port {quote(host[i:])} after host")
    return _unescape(host, "host")


_USERINFO_OK = set("-._:~!$&'()*+,;=%@")


def parse_url(raw: str) -> tuple[str, str]:
    """(Host, Path) of Go's ``url.Parse(raw)`` for ``scheme://...`` input; raises URLError where Go errs."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise URLError("net/url: invalid control character in URL")
    raw, _, frag = raw.partition("#")
    _unescape(frag, "fragment")
    scheme, sep, rest = raw.partition(":")
    if not sep or not scheme or not (scheme[0].isascii() and scheme[0].isalpha()):
        raise URLError("missing protocol scheme")
    rest = rest.partition("?")[0]  # the query (or a lone ForceQuery '?') is not part of host or path
    host = ""
    if rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        at = authority.rfind("@")
        host = _parse_host(authority[at + 1 :])
        if at >= 0:
            userinfo = authority[:at]
            if not all(c.isascii() and (c.isalnum() or c in _USERINFO_OK) for c in userinfo):
                raise URLError("net/url: invalid userinfo")
            for part in userinfo.split(":", 1):
                _unescape(part, "userinfo")
    return host, _unescape(rest, "path")


# --- net.SplitHostPort ------------------------------------------------------------------------------------


def split_host_port(hostport: str) -> tuple[str, str] | None:
    """net.SplitHostPort, or None where Go returns an error."""
    i = hostport.rfind(":")
    if i < 0:
        return None
    j = k = 0
    if hostport[0] == "[":
        end = hostport.find("]")
        if end < 0 or end + 1 != i:
            return None
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            return None
    if "[" in hostport[j:] or "]" in hostport[k:]:
        return None
    return host, hostport[i + 1 :]


# --- path/filepath.Match (Unix) -----------------------------------------------------------------------------


class BadPattern(ValueError):
    """filepath.ErrBadPattern."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


def match(pattern: str, name: str) -> bool:
    """filepath.Match: '*' and '?' never cross '/', classes use '^' for negation; raises BadPattern."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and chunk == "":
            return "/" not in name
        t, ok = _match_chunk(chunk, name)
        if ok and (t == "" or pattern):
            name = t
            continue
        if star:
            found = False
            i = 0
            while i < len(name) and name[i] != "/":
                t, ok = _match_chunk(chunk, name[i + 1 :])
                if ok and not (pattern == "" and t):
                    name = t
                    found = True
                    break
                i += 1
            if found:
                continue
        while pattern:  # Go validates the rest of the pattern before reporting a mismatch
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return name == ""


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern = pattern[1:]
        star = True
    inrange = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif c == "[":
            inrange = True
        elif c == "]":
            inrange = False
        elif c == "*" and not inrange:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> tuple[str, bool]:
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        c = chunk[0]
        if c == "[":
            r = ""
            if not failed:
                r, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched = False
            nrange = 0
            while True:
                if chunk.startswith("]") and nrange > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == "-":
                    hi, chunk = _get_esc(chunk[1:])
                if r and lo <= r <= hi:
                    matched = True
                nrange += 1
            if matched == negated:
                failed = True
        elif c == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if c == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise BadPattern()
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    return ("", False) if failed else (s, True)


def _get_esc(chunk: str) -> tuple[str, str]:
    if not chunk or chunk[0] in "-]":
        raise BadPattern()
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise BadPattern()
    r, rest = chunk[0], chunk[1:]
    if not rest:
        raise BadPattern()
    return r, rest
