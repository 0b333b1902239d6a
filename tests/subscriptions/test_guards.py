"""Predicate indexing: subscriptions found by the comparison their q requires are exactly
those whose q can hold, and a change notifies every subscription whose threshold it passes."""

from __future__ import annotations

import queue
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from dalgu.query.q import parse_q
from dalgu.store.indexing import IndexRow
from dalgu.subscriptions.guards import GuardedSet, guard_of
from dalgu.subscriptions.matching import _evaluate
from tests.receiver import Receiver

OPS = [">", ">=", "<", "<=", "=="]
numbers = st.integers(min_value=-5, max_value=5)


def rows(values: list[float]) -> dict[tuple[str, str], list[IndexRow]]:
    """An entity whose `speed` has these values (several instances, as with datasetIds)."""
    return {("speed", ""): [IndexRow("speed", "", "n", float(v), None) for v in values]}


@given(
    subs=st.lists(st.tuples(st.sampled_from(OPS), numbers), min_size=1, max_size=30),
    values=st.lists(numbers, max_size=3),
    extra=st.booleans(),
)
def test_the_guarded_subscriptions_found_are_those_whose_q_can_hold(
    subs: list[tuple[str, int]], values: list[int], extra: bool
) -> None:
    guarded: GuardedSet[int] = GuardedSet()
    expressions = []
    for n, (op, threshold) in enumerate(subs):
        # with `extra`, a second term the index does not look at (the q is tested whole later)
        q = parse_q(f"speed{op}{threshold};other==1" if extra else f"speed{op}{threshold}")
        guard = guard_of(q)
        assert guard is not None
        guarded.add(guard, n)
        expressions.append(parse_q(f"speed{op}{threshold}"))
    found: list[int] = []
    guarded.select(rows([float(v) for v in values]), found)
    holds = {n for n, expr in enumerate(expressions) if _evaluate(expr, rows(values))}
    assert set(found) == holds


def test_what_the_index_cannot_use_is_left_to_the_whole_q() -> None:
    for q in ("speed!=3", "speed>3|speed<1", "name~=ab", "speed.observedAt>3", "speed==1..3"):
        assert guard_of(parse_q(q)) is None, q
    guard = guard_of(parse_q('name=="a";speed>2'))
    assert guard is not None and (guard.attr, guard.op, guard.value) == ("name", "==", "a")


def test_a_change_notifies_every_subscription_whose_threshold_it_passes(
    client: TestClient,
) -> None:
    receivers = {n: Receiver() for n in range(6)}
    try:
        for n, receiver in receivers.items():
            client.post(
                "/ngsi-ld/v1/subscriptions",
                json={
                    "type": "Subscription",
                    "entities": [{"type": "Vehicle"}],
                    "q": f"speed>{n * 10}",
                    "notification": {"endpoint": {"uri": receiver.url}, "format": "keyValues"},
                },
            )
        vehicle = {"id": "urn:ngsi-ld:Vehicle:g", "type": "Vehicle", "speed": 25}
        assert client.post("/ngsi-ld/v1/entities", json=vehicle).status_code == 201
        for n in (0, 1, 2):  # thresholds 0, 10, 20 < 25
            assert receivers[n].next(timeout=5)[1]["data"][0]["speed"] == 25
        patch = {"speed": 45}
        url = "/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:g/attrs"
        assert client.patch(url, json=patch).status_code == 204
        for n in (0, 1, 2, 3, 4):  # now 30 and 40 too
            assert receivers[n].next(timeout=5)[1]["data"][0]["speed"] == 45
        for n, receiver in receivers.items():
            try:
                receiver.next(timeout=0.3)
            except queue.Empty:
                continue
            raise AssertionError(f"speed>{n * 10} was notified once too often")
    finally:
        for receiver in receivers.values():
            receiver.close()


def test_a_pattern_that_backtracks_for_ever_is_matched_at_once_by_the_notifier() -> None:
    """A subscription's `q` `name~="(a+)+$"` and an entity named with 40 `a`s and a `!` held the
    notifier for minutes per change (with Python's `re`), on both stores: no subscription of
    any tenant was notified meanwhile, and a restarted notifier met the same change again. In a
    process of its own: a regex holding the interpreter cannot be interrupted from inside."""
    script = """
from dalgu.query.q import parse_q
from dalgu.store.indexing import IndexRow
from dalgu.subscriptions.matching import _evaluate
name = {("name", ""): [IndexRow("name", "", "s", None, "a" * 40 + "!")]}
print(_evaluate(parse_q('name~="(a+)+$"'), name), _evaluate(parse_q('name~="a+!$"'), name))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["False", "True"], done.stderr
