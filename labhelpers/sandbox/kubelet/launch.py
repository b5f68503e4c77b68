"""Exec helper for emulated container processes: ``python launch.py [--tty] [--unset NAME]... PROGRAM ARGV0 ...``.

Run with ``python -I -S`` so it starts in milliseconds and imports only the standard library. It puts the
process in a session of its own (the runtime kills the whole group, children included), makes the pty on
stdin its controlling terminal for a TTY container (so ^C reaches the foreground job, as in a container),
asks the kernel to SIGKILL it if the sandbox process dies, then execs PROGRAM with ``argv[0]`` as the
container sees it. ``--unset`` drops what Python itself put into the environment (PEP 538 sets
``LC_CTYPE=C.UTF-8`` under the C locale), so the container sees exactly the runtime's environment.
"""

import contextlib
import ctypes
import fcntl
import os
import signal
import sys
import termios

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    tty = argv[:1] == ["--tty"]
    if tty:
        argv = argv[1:]
    while argv[:1] == ["--unset"]:
        os.environ.pop(argv[1], None)
        argv = argv[2:]
    program, args = argv[0], argv[1:]
    os.setsid()
    if tty:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    os.execv(program, args)


if __name__ == "__main__":
    main(sys.argv[1:])
