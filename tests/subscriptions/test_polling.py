"""A notifier that polls the outbox (its own process on SQLite) looks less often while it finds
nothing, and as often as before while changes come."""

from __future__ import annotations

from dalgu.subscriptions.notifier import IDLE_POLL, next_poll

POLL = 0.002


def test_looks_that_find_nothing_wait_twice_as_long_up_to_the_idle_poll() -> None:
    waits = [POLL]
    for _ in range(5):
        waits.append(next_poll(waits[-1], POLL, found=False))
    assert waits == [POLL, 0.004, IDLE_POLL, IDLE_POLL, IDLE_POLL, IDLE_POLL]


def test_a_look_that_finds_changes_brings_the_wait_back_to_the_poll() -> None:
    assert next_poll(IDLE_POLL, POLL, found=True) == POLL


def test_a_poll_slower_than_the_idle_poll_is_kept() -> None:
    assert next_poll(0.05, 0.05, found=False) == 0.05
