"""``labctl``: run the sandbox and the lab's tools from a shell."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from .sandbox import Sandbox, SandboxError


def _sandbox(args: argparse.Namespace) -> Sandbox:
    return Sandbox(args.dir)


def cmd_up(args: argparse.Namespace) -> int:
    sb = _sandbox(args)
    t0 = time.monotonic()
    was_running = bool(sb.running())
    info = sb.up(clock_speed=args.clock_speed)
    took = time.monotonic() - t0
    state = "already running" if was_running else f"started in {took:.2f}s"
    print(f"# lab sandbox {state}: {info['api_url']} (state in {sb.dir})", file=sys.stderr)
    print(sb.env_line())
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    stopped = _sandbox(args).down()
    print("sandbox stopped" if stopped else "sandbox was not running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    st = _sandbox(args).status()
    if args.output == "json":
        print(json.dumps(st, indent=2))
    else:
        print(f"running: {'yes' if st['running'] else 'no'}")
        print(f"dir:     {st['dir']}")
        if st["running"]:
            print(f"api:     {st['api_url']} (pid {st['pid']})")
    return 0 if st["running"] else 3


def cmd_reset(args: argparse.Namespace) -> int:
    _sandbox(args).reset()
    print("sandbox state wiped")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    print(_sandbox(args).env_line())
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    info = _sandbox(args).info()
    if args.output == "json":
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k}: {v if not isinstance(v, dict | list) else json.dumps(v)}")
    return 0


def cmd_registry_add(args: argparse.Namespace) -> int:
    import getpass

    from .sandbox.admin import AdminError, add_registry

    password = args.password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = getpass.getpass(f"Password for {args.user}@{args.host}: ")
    try:
        result = add_registry(args.dir, args.host, args.user, password)
    except AdminError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    verb = "started" if result.get("created") else "updated"
    print(f"{verb} registry {args.host} (user {args.user})")
    return 0


def cmd_registry_list(args: argparse.Namespace) -> int:
    from .sandbox.admin import AdminError, list_registries

    try:
        regs = list_registries(args.dir)
    except AdminError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.output == "json":
        print(json.dumps(regs, indent=2))
        return 0
    print(f"{'HOST':40} {'AUTH':8} URL")
    for r in regs:
        print(f"{r['host']:40} {r.get('auth', ''):8} {r.get('url', '')}")
    return 0


def _clock_lines(state: dict) -> str:
    offset = float(state.get("offsetSeconds") or 0.0)
    return f"now:    {state['now']}\nspeed:  {state['speed']:g}\noffset: {offset:+.0f}s (ahead of the wall clock)"


def cmd_clock(args: argparse.Namespace) -> int:
    """``labctl sandbox clock`` shows the sandbox clock; ``... clock advance 12h`` fast-forwards it."""
    from .sandbox.admin import AdminError

    sb = _sandbox(args)
    try:
        if getattr(args, "clock_action", None) == "advance":
            number = re.fullmatch(r"[0-9]+(?:\.[0-9]*)?", args.duration)  # a bare number is seconds
            state = sb.advance_clock(float(args.duration) if number else args.duration)
            print(f"sandbox clock advanced by {args.duration}")
        else:
            state = sb.clock()
    except AdminError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(state, indent=2) if args.output == "json" else _clock_lines(state))
    return 0


def cmd_install_kubectl(args: argparse.Namespace) -> int:
    from .tools import kubectl

    path = kubectl.install(args.version, Path(args.dest) if args.dest else None, force=args.force)
    print(path)
    return 0


def cmd_install_kyverno(args: argparse.Namespace) -> int:
    """Exercise 12: the sandbox when --dir is given or the sandbox runs, else the kubeconfig's cluster."""
    from .kyverno import KyvernoInstallError, install_kyverno

    try:
        result = install_kyverno(sandbox_dir=args.dir, version=args.version)
    except KyvernoInstallError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if result["target"] == "sandbox":
        state = "installed" if result.get("created") else "is already installed"
        print(f"kyverno {result['version']} {state} in the lab sandbox (namespace {result['namespace']})")
    else:
        print("\n".join(f"{name} serverside-applied" for name in result["applied"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labctl", description="Registry Security Lab command-line tools")
    sub = p.add_subparsers(dest="cmd", required=True)

    sb = sub.add_parser("sandbox", help="run the embedded lab cluster")
    sbs = sb.add_subparsers(dest="action", required=True)

    def add(name: str, func, help_: str) -> argparse.ArgumentParser:
        sp = sbs.add_parser(name, help=help_)
        sp.add_argument("--dir", default=None, help="state directory (default ~/.local/state/labhelpers/sandbox)")
        sp.set_defaults(func=func)
        return sp

    up = add("up", cmd_up, "start the sandbox in the background (idempotent)")
    up.add_argument("--clock-speed", type=float, default=1.0,
                    help="run back-offs and token expiry N times faster (drills)")
    add("down", cmd_down, "stop every process the sandbox started")
    st = add("status", cmd_status, "is the sandbox running?")
    st.add_argument("-o", "--output", choices=["text", "json"], default="text")
    add("reset", cmd_reset, "stop the sandbox and wipe its state")
    add("env", cmd_env, "print the export KUBECONFIG=... line")
    inf = add("info", cmd_info, "describe the running sandbox")
    inf.add_argument("-o", "--output", choices=["text", "json"], default="text")

    clk = add("clock", cmd_clock, "show the sandbox clock (now, speed, offset); `clock advance 12h` fast-forwards it")
    clk.add_argument("-o", "--output", choices=["text", "json"], default="text")
    clks = clk.add_subparsers(dest="clock_action")
    adv = clks.add_parser("advance", help="fast-forward sandbox time (token expiry, back-offs, CronJobs react at once)")
    adv.add_argument("duration", help='a Go duration such as 12h, 90m, 1h30m or 45s, or a number of seconds')
    adv.add_argument("--dir", default=argparse.SUPPRESS, help="state directory")
    adv.add_argument("-o", "--output", choices=["text", "json"], default=argparse.SUPPRESS)

    reg = sbs.add_parser("registry", help="the sandbox's container registries")
    regs = reg.add_subparsers(dest="registry_action", required=True)
    ra = regs.add_parser("add", help="add a registry host, or a user to an existing one")
    ra.add_argument("host")
    ra.add_argument("--user", required=True)
    pw = ra.add_mutually_exclusive_group()
    pw.add_argument("--password")
    pw.add_argument("--password-stdin", action="store_true")
    ra.add_argument("--dir", default=None)
    ra.set_defaults(func=cmd_registry_add)
    rl = regs.add_parser("list", help="list the registry hosts")
    rl.add_argument("-o", "--output", choices=["text", "json"], default="text")
    rl.add_argument("--dir", default=None)
    rl.set_defaults(func=cmd_registry_list)

    from .trust.cli import add_cli as add_sign_cli

    add_sign_cli(sub)

    from .sandbox.admission.kyverno.cli import add_cli as add_policy_cli

    add_policy_cli(sub)

    from .regress import add_cli as add_regress_cli

    add_regress_cli(sub)

    from .kyverno import KYVERNO_VERSION

    inst = sub.add_parser("install", help="install cluster add-ons the lab uses")
    insts = inst.add_subparsers(dest="addon", required=True)
    ikv = insts.add_parser("kyverno", help="install Kyverno (Exercise 12) in the sandbox or the kubeconfig's cluster")
    ikv.add_argument("--dir", default=None, help="the sandbox's state directory (implies the sandbox)")
    ikv.add_argument("--version", default=KYVERNO_VERSION, help=f"Kyverno release (default {KYVERNO_VERSION})")
    ikv.set_defaults(func=cmd_install_kyverno)

    tools = sub.add_parser("tools", help="install the lab's command-line tools")
    ts = tools.add_subparsers(dest="action", required=True)
    ik = ts.add_parser("install-kubectl", help="install a pinned kubectl next to this Python")
    ik.add_argument("--version", default="1.33", help="kubectl minor version (1.32-1.37)")
    ik.add_argument("--dest", default=None)
    ik.add_argument("--force", action="store_true")
    ik.set_defaults(func=cmd_install_kubectl)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SandboxError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
