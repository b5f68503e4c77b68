"""Container log files in the CRI format, written as containerd writes them and read as the kubelet reads them.

Each line of a log file is ``<RFC3339Nano time> <stdout|stderr> <F|P> <text>``: containerd splits a stream at
newlines (``F``, full) and cuts lines longer than 16 KiB into ``P`` (partial) pieces; a last line without a
newline is written as ``F`` when the stream ends. The kubelet's reader (pkg/kubelet/kuberuntime/logs) turns
each ``F`` message back into ``text + "\\n"`` and applies ``tailLines``, ``sinceSeconds``/``sinceTime``,
``timestamps`` and ``limitBytes`` in that order; ``follow`` keeps reading until the container has exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

__all__ = ["MAX_LINE", "CriLogWriter", "LogMessage", "LogOptions", "follow_log", "format_ts", "parse_line",
           "parse_ts", "read_log"]

MAX_LINE = 16 * 1024  # containerd's maxContainerLogLineSize default
FOLLOW_POLL = 0.05  # seconds between looks at a followed file


def format_ts(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: fraction digits without trailing zeros, none when zero."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def parse_ts(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time (with or without a fraction, ``Z`` or an offset)."""
    main, _, frac = text.partition(".")
    offset = ""
    if frac:
        for i, ch in enumerate(frac):
            if not ch.isdigit():
                frac, offset = frac[:i], frac[i:]
                break
    else:
        main, offset = text[:19], text[19:]
    dt = datetime.strptime(main[:19], "%Y-%m-%dT%H:%M:%S")
    if offset in ("Z", "z", ""):
        dt = dt.replace(tzinfo=UTC)
    else:
        dt = datetime.strptime(main[:19] + offset.replace(":", ""), "%Y-%m-%dT%H:%M:%S%z")
    return int(dt.timestamp()) * 1_000_000_000 + int((frac or "0").ljust(9, "0")[:9])


@dataclass(frozen=True)
class LogMessage:
    ts: int  # ns since the epoch
    stream: str  # stdout | stderr
    full: bool
    text: bytes

    def render(self, timestamps: bool) -> bytes:
        body = self.text + (b"\n" if self.full else b"")
        return (format_ts(self.ts).encode() + b" " + body) if timestamps else body


def parse_line(line: bytes) -> LogMessage | None:
    """One CRI log line (without its newline); None for a malformed one (the kubelet skips those)."""
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"F", b"P"):
        return None
    try:
        ts = parse_ts(parts[0].decode())
    except ValueError:
        return None
    return LogMessage(ts, parts[1].decode(), parts[2] == b"F", parts[3] if len(parts) > 3 else b"")


class CriLogWriter:
    """Appends a container's output to its log file, one CRI line per complete line of each stream."""

    def __init__(self, path: Path, clock: Callable[[], int] = time.time_ns) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        self._file: BinaryIO | None = path.open("ab")
        self._pending: dict[str, bytes] = {}

    def _emit(self, stream: str, tag: str, text: bytes) -> None:
        if self._file is None:
            return
        self._file.write(f"{format_ts(self._clock())} {stream} {tag} ".encode() + text + b"\n")

    def write(self, stream: str, data: bytes) -> None:
        buf = self._pending.get(stream, b"") + data
        while True:
            nl = buf.find(b"\n")
            if nl < 0 or nl > MAX_LINE:
                break
            self._emit(stream, "F", buf[:nl])
            buf = buf[nl + 1:]
        while len(buf) > MAX_LINE:
            self._emit(stream, "P", buf[:MAX_LINE])
            buf = buf[MAX_LINE:]
        self._pending[stream] = buf
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """The streams ended: a last line without a newline is logged as a full line."""
        for stream, buf in self._pending.items():
            if buf:
                self._emit(stream, "F", buf)
        self._pending.clear()
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(frozen=True)
class LogOptions:
    """``v1.PodLogOptions`` as the kubelet applies them (``since`` is absolute, in ns)."""

    tail_lines: int | None = None
    since: int | None = None
    timestamps: bool = False
    limit_bytes: int | None = None
    follow: bool = False


def _messages(data: bytes, opts: LogOptions) -> list[LogMessage]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if opts.tail_lines is not None:
        lines = lines[-opts.tail_lines:] if opts.tail_lines > 0 else []
    out = []
    for line in lines:
        msg = parse_line(line)
        if msg is not None and (opts.since is None or msg.ts >= opts.since):
            out.append(msg)
    return out


class _Limiter:
    """``limitBytes``: everything up to the limit, then nothing."""

    def __init__(self, limit: int | None) -> None:
        self.left = limit

    def take(self, chunk: bytes) -> bytes:
        if self.left is None:
            return chunk
        chunk = chunk[:self.left]
        self.left -= len(chunk)
        return chunk

    @property
    def done(self) -> bool:
        return self.left is not None and self.left <= 0


def read_log(path: Path | None, opts: LogOptions) -> bytes:
    """The whole answer to a non-follow log request (empty when the container wrote nothing)."""
    try:
        data = path.read_bytes() if path is not None else b""
    except FileNotFoundError:
        data = b""
    limiter = _Limiter(opts.limit_bytes)
    return b"".join(limiter.take(m.render(opts.timestamps)) for m in _messages(data, opts))


async def follow_log(path: Path | None, opts: LogOptions, running: Callable[[], bool]) -> AsyncIterator[bytes]:
    """``kubectl logs -f``: what is there (after ``tailLines``/``since``), then new lines until the container
    has exited and its last output has been read."""
    limiter = _Limiter(opts.limit_bytes)
    try:
        data = path.read_bytes() if path is not None else b""
    except FileNotFoundError:
        data = b""
    offset = data.rfind(b"\n") + 1
    for msg in _messages(data[:offset], opts):
        chunk = limiter.take(msg.render(opts.timestamps))
        if chunk:
            yield chunk
        if limiter.done:
            return
    later = LogOptions(since=opts.since, timestamps=opts.timestamps)
    while True:
        alive = running()
        new = b""
        if path is not None:
            with contextlib.suppress(FileNotFoundError), path.open("rb") as f:
                f.seek(offset)
                new = f.read()
        complete = new[:new.rfind(b"\n") + 1]
        offset += len(complete)
        for msg in _messages(complete, later):
            chunk = limiter.take(msg.render(opts.timestamps))
            if chunk:
                yield chunk
            if limiter.done:
                return
        if not alive and not complete:
            return
        if not complete:
            await asyncio.sleep(FOLLOW_POLL)
