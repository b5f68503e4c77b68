"""The kubelet's image-pull back-off (flowcontrol.Backoff with 10 s initial, 300 s cap, no jitter)."""

from __future__ import annotations

import pytest

from labhelpers.sandbox.kubelet.backoff import (
    IMAGE_BACKOFF_INITIAL,
    IMAGE_BACKOFF_MAX,
    Backoff,
    image_backoff_key,
    jitter,
)


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_constants_match_kubelet() -> None:
    assert (IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX) == (10.0, 300.0)


def test_key_is_pod_uid_and_image_as_written() -> None:
    assert image_backoff_key("1234-uid", "nginx") == "1234-uid_nginx"
    assert image_backoff_key("u", "docker.io/library/nginx:latest") == "u_docker.io/library/nginx:latest"


def test_windows_double_from_10_to_300(clock: FakeClock) -> None:
    b = Backoff(10, 300, clock)
    seen = []
    for _ in range(8):
        b.next("k")
        seen.append(b.get("k"))
        clock.t += b.get("k")  # retry exactly when the window closes
    assert seen == [10, 20, 40, 80, 160, 300, 300, 300]


def test_in_backoff_only_inside_the_window(clock: FakeClock) -> None:
    b = Backoff(10, 300, clock)
    assert not b.is_in_backoff_since_update("k")
    b.next("k")
    assert b.is_in_backoff_since_update("k", clock.t + 0.1)
    assert b.is_in_backoff_since_update("k", clock.t + 9.999)
    assert not b.is_in_backoff_since_update("k", clock.t + 10)  # "<", not "<="
    assert b.remaining("k", clock.t + 4) == pytest.approx(6)
    assert b.remaining("k", clock.t + 11) == 0
    assert not b.is_in_backoff_since_update("other")


def test_entry_expires_after_twice_the_maximum(clock: FakeClock) -> None:
    b = Backoff(10, 300, clock)
    b.next("k")
    clock.t += 10
    b.next("k")
    assert b.get("k") == 20
    clock.t += 601  # quiet for more than 2 x 300 s: the next failure starts over at 10 s
    b.next("k")
    assert b.get("k") == 10


def test_gc_drops_only_stale_entries(clock: FakeClock) -> None:
    b = Backoff(10, 300, clock)
    b.next("old")
    clock.t += 500
    b.next("new")
    clock.t += 200  # old: 700 s quiet, new: 200 s
    b.gc()
    assert "old" not in b and "new" in b


def test_reset(clock: FakeClock) -> None:
    b = Backoff(10, 300, clock)
    b.next("k")
    b.reset("k")
    assert not b.is_in_backoff_since_update("k")


def test_worker_jitter_bounds() -> None:
    assert jitter(10, 0.5, lambda: 0.0) == 10
    assert jitter(10, 0.5, lambda: 0.999) == pytest.approx(14.995)
    assert jitter(10, 0.0, lambda: 0.5) == 15  # wait.Jitter treats a factor <= 0 as 1.0
