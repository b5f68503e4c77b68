"""The sandbox clock: fast-forward, the persisted offset, Go duration parsing and waking whoever waits on it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime

import pytest

from labhelpers.sandbox.apiserver import admission
from labhelpers.sandbox.apiserver.objects import Registry
from labhelpers.sandbox.apiserver.store import Store
from labhelpers.sandbox.clock import CLOCK_FILE, SandboxClock, parse_duration, parse_duration_ns
from labhelpers.sandbox.controllers import ControllerManager
from labhelpers.sandbox.controllers.common import CRONJOB, EVENT, JOB, NAMESPACE

HOUR = 3600.0
NS = 1
US = 1_000
MS = 1_000_000
S = 1_000_000_000
M = 60 * S
H = 60 * M


class FakeTime:
    """A wall clock and a monotonic clock the test moves by hand."""

    def __init__(self, wall: float = 1_750_000_000.0) -> None:
        self.wall = wall
        self.mono = 1000.0

    def pass_real(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


# --- Go's time.ParseDuration (cases from go/src/time/time_test.go) ---

@pytest.mark.parametrize(("text", "ns"), [
    ("0", 0), ("5s", 5 * S), ("30s", 30 * S), ("1478s", 1478 * S), ("-5s", -5 * S), ("+5s", 5 * S),
    ("-0", 0), ("+0", 0), ("5.0s", 5 * S), ("5.6s", 5 * S + 600 * MS), ("5.s", 5 * S), (".5s", 500 * MS),
    ("1.004s", 1 * S + 4 * MS), ("100.00100s", 100 * S + 1 * MS), ("10ns", 10 * NS), ("11us", 11 * US),
    ("12µs", 12 * US), ("12μs", 12 * US), ("13ms", 13 * MS), ("15m", 15 * M), ("16h", 16 * H),
    ("3h30m", 3 * H + 30 * M), ("10.5s4m", 4 * M + 10 * S + 500 * MS), ("-2m3.4s", -(2 * M + 3 * S + 400 * MS)),
    ("1h2m3s4ms5us6ns", H + 2 * M + 3 * S + 4 * MS + 5 * US + 6 * NS), ("39h9m14.425s", 39 * H + 9 * M + 14425 * MS),
    ("52763797000ns", 52763797000), ("0.3333333333333333333h", 20 * M),
    ("9223372036854775807ns", (1 << 63) - 1), ("9223372036854775.807us", (1 << 63) - 1),
    ("-9223372036854775808ns", -(1 << 63)), ("0.100000000000000000000h", 6 * M),
    ("0.830103483285477580700h", 49 * M + 48 * S + 372539827 * NS), ("12h", 12 * H), ("1h30m", 90 * M),
])
def test_parse_duration_like_go(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize(("text", "message"), [
    ("", 'time: invalid duration ""'),
    ("3", 'time: missing unit in duration "3"'),
    ("-", 'time: invalid duration "-"'),
    ("s", 'time: invalid duration "s"'),
    (".", 'time: invalid duration "."'),
    ("-.", 'time: invalid duration "-."'),
    (".s", 'time: invalid duration ".s"'),
    ("+.s", 'time: invalid duration "+.s"'),
    ("1d", 'time: unknown unit "d" in duration "1d"'),
    ("12 h", 'time: unknown unit " h" in duration "12 h"'),
    ("\uFFFD", 'time: invalid duration "\\xef\\xbf\\xbd"'),
    ("\uFFFD hello \uFFFD world", 'time: invalid duration "\\xef\\xbf\\xbd hello \\xef\\xbf\\xbd world"'),
    ('1"x', 'time: unknown unit "\\"x" in duration "1\\"x"'),
    ("9223372036854775810ns", 'time: invalid duration "9223372036854775810ns"'),
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
    ("-9223372036854775809ns", 'time: invalid duration "-9223372036854775809ns"'),
    ("9223372036854776us", 'time: invalid duration "9223372036854776us"'),
    ("3000000h", 'time: invalid duration "3000000h"'),
    ("9223372036854775.808us", 'time: invalid duration "9223372036854775.808us"'),
    ("9223372036854ms775us808ns", 'time: invalid duration "9223372036854ms775us808ns"'),
])
def test_parse_duration_errors_are_gos(text: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_duration_ns(text)
    assert str(e.value) == message


def test_parse_duration_takes_seconds_as_numbers() -> None:
    assert parse_duration("12h") == 12 * HOUR
    assert parse_duration("1h30m") == 5400.0
    assert parse_duration(45) == 45.0 and parse_duration(1.5) == 1.5
    for bad in (True, float("inf"), float("nan"), None, [1]):
        with pytest.raises(ValueError):
            parse_duration(bad)  # type: ignore[arg-type]


# --- advance ---

def test_advance_moves_the_clock_forward_only() -> None:
    ft = FakeTime()
    clock = SandboxClock(wall=lambda: ft.wall, mono=lambda: ft.mono)
    assert clock.now() == ft.wall and clock.offset == 0
    assert clock.advance(12 * HOUR) == ft.wall + 12 * HOUR
    ft.pass_real(10)
    assert clock.now() == ft.wall + 12 * HOUR
    assert clock.state() == {"now": datetime.fromtimestamp(ft.wall + 12 * HOUR, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "speed": 1.0, "offsetSeconds": 12 * HOUR}
    for bad in (0, -1, -12 * HOUR, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="only moves forward"):
            clock.advance(bad)
    assert clock.offset == 12 * HOUR


def test_speed_and_advance_add_up() -> None:
    ft = FakeTime()
    clock = SandboxClock(speed=60, wall=lambda: ft.wall, mono=lambda: ft.mono)
    ft.pass_real(10)  # ten real seconds are ten sandbox minutes
    clock.advance(HOUR)
    assert clock.offset == pytest.approx(590 + HOUR)
    assert clock.real_seconds(600) == 10
    with pytest.raises(ValueError):
        SandboxClock(speed=0)


# --- persistence ---

def test_offset_survives_a_restart(tmp_path) -> None:
    ft = FakeTime()
    clock = SandboxClock.load(tmp_path, wall=lambda: ft.wall, mono=lambda: ft.mono)
    clock.advance(12 * HOUR)
    before = clock.now()
    saved = json.loads((tmp_path / CLOCK_FILE).read_text())
    assert saved["offsetSeconds"] == 12 * HOUR
    ft.pass_real(30)  # down, then up again half a minute later
    again = SandboxClock.load(tmp_path, wall=lambda: ft.wall, mono=lambda: ft.mono)
    assert again.offset == 12 * HOUR
    assert again.now() == before + 30


def test_a_fast_clock_never_restarts_earlier(tmp_path) -> None:
    """At speed 3600, sandbox time races ahead; restarting at speed 1 continues from there, not from the wall."""
    ft = FakeTime()
    fast = SandboxClock.load(tmp_path, speed=3600, wall=lambda: ft.wall, mono=lambda: ft.mono)
    ft.pass_real(5)
    fast.save()  # what shutdown does
    stamped = fast.now()
    assert stamped == ft.wall - 5 + 5 * 3600
    normal = SandboxClock.load(tmp_path, speed=1, wall=lambda: ft.wall, mono=lambda: ft.mono)
    assert normal.now() >= stamped
    assert normal.now() == pytest.approx(stamped)


def test_a_crash_restarts_after_the_promised_time(tmp_path) -> None:
    """Between periodic saves a fast clock hands out later times; ``notBefore`` covers them after a kill."""
    ft = FakeTime()
    fast = SandboxClock.load(tmp_path, speed=3600, wall=lambda: ft.wall, mono=lambda: ft.mono)
    fast.save(lease=4)  # the periodic save: good for four real seconds
    ft.pass_real(3)
    stamped = fast.now()  # an object created just before the process was killed
    restarted = SandboxClock.load(tmp_path, wall=lambda: ft.wall, mono=lambda: ft.mono)
    assert restarted.now() >= stamped


def test_an_unreadable_clock_file_starts_at_the_wall_clock(tmp_path) -> None:
    (tmp_path / CLOCK_FILE).write_text("{not json")
    ft = FakeTime()
    clock = SandboxClock.load(tmp_path, wall=lambda: ft.wall, mono=lambda: ft.mono)
    assert clock.offset == 0
    assert json.loads((tmp_path / CLOCK_FILE).read_text())["offsetSeconds"] == 0


# --- waiting ---

def test_sleepers_wake_on_an_advance_past_their_deadline() -> None:
    async def scenario() -> None:
        clock = SandboxClock()
        sleeper = asyncio.create_task(clock.sleep(12 * HOUR))
        await asyncio.sleep(0.05)
        assert not sleeper.done()
        clock.advance(6 * HOUR)  # not far enough: it keeps sleeping
        await asyncio.sleep(0.05)
        assert not sleeper.done()
        t0 = time.monotonic()
        clock.advance(6 * HOUR)
        assert await asyncio.wait_for(sleeper, 1) is True
        assert time.monotonic() - t0 < 0.5

    asyncio.run(scenario())


def test_sleep_returns_false_when_poked_and_true_when_due() -> None:
    async def scenario() -> None:
        clock = SandboxClock(speed=100)
        wake = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, wake.set)
        assert await clock.sleep(float("inf"), wake) is False
        t0 = time.monotonic()
        assert await clock.sleep(10) is True  # ten sandbox seconds at speed 100
        assert 0.09 <= time.monotonic() - t0 < 0.5

    asyncio.run(scenario())


def test_an_advance_from_another_thread_wakes_the_loop() -> None:
    async def scenario() -> None:
        clock = SandboxClock()
        seen: list[float] = []
        unsubscribe = clock.subscribe(seen.append)
        waiter = asyncio.create_task(clock.wait_advanced(5))
        sleeper = asyncio.create_task(clock.sleep(HOUR))
        await asyncio.sleep(0.05)
        threading.Thread(target=clock.advance, args=(2 * HOUR,)).start()
        assert await asyncio.wait_for(waiter, 1) is True
        assert await asyncio.wait_for(sleeper, 1) is True
        assert seen == [2 * HOUR]
        unsubscribe()
        clock.advance(1)
        assert seen == [2 * HOUR]
        assert await clock.wait_advanced(0.05) is False

    asyncio.run(scenario())


def _cronjob() -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}}


def test_the_controller_loop_fires_a_cronjob_right_after_an_advance(tmp_path) -> None:
    """The manager waits for "come back in N seconds" on the clock: an advance wakes it, and a jump over
    more than 100 schedules starts the most recent one with the TooManyMissedTimes warning."""
    store = Store(tmp_path / "state.db")
    clock = SandboxClock()
    registry = Registry(store, clock=clock.now)
    admission.install(registry)

    async def scenario() -> tuple[list[dict], list[dict], float]:
        mgr = ControllerManager(registry, clock=clock)
        task = asyncio.create_task(mgr.run())
        for _ in range(200):
            await asyncio.sleep(0.02)
            if registry.find(NAMESPACE, "", "default"):
                break
        registry.create(CRONJOB, "default", _cronjob())
        await asyncio.sleep(0.1)
        assert registry.list(JOB, "default") == []
        t0 = time.monotonic()
        clock.advance(12 * HOUR)
        jobs: list[dict] = []
        while not jobs and time.monotonic() - t0 < 3:
            await asyncio.sleep(0.01)
            jobs = registry.list(JOB, "default")
        took = time.monotonic() - t0
        mgr.stop()
        task.cancel()
        return jobs, registry.list(EVENT, "default"), took

    try:
        jobs, events, took = asyncio.run(scenario())
    finally:
        store.close()
    assert len(jobs) == 1 and took < 0.4  # no waiting for the half-second tick
    scheduled = jobs[0]["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert datetime.fromisoformat(scheduled).timestamp() <= clock.now()
    assert clock.now() - datetime.fromisoformat(scheduled).timestamp() < 300
    reasons = {(e["reason"], e["message"]) for e in events}
    assert ("TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                                  "or check clock skew") in reasons
    assert ("SuccessfulCreate", f"Created job {jobs[0]['metadata']['name']}") in reasons
