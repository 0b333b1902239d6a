"""Conformance checks: do a firm's devices send what their profile says?

`evaluate` takes the messages recorded during a run (`MessageEvent`s of one API key) and the
device profile, and gives a verdict per check:

- accepted: every message was stored (none refused: unknown device, bad payload, …)
- schema: every measure is one the profile declares, every required measure is present
- types: values parse as their declared type (a number is a number)
- ranges: numeric values lie within [min, max], a Text with `values` is one of them
- rate: each device's median interval is within `jitter` of the profile's interval
- jitter: at least 95% of intervals lie within `jitter` of the interval
- gaps: no device silent longer than twice the profile's interval, counting from the run's
  start to its first message and from its last message to the run's end ("n/a" when the run
  is too short to show it)
- duplicates: no device sends the same timestamp twice
- order: device timestamps never go back
- latency: device timestamp to stored, p99 under `max_latency` (clock skew shows here too)
- timestamps: every device time given (group time, `TimeInstant`, HTTP `t`) is ISO 8601
- commands: each declared command answered OK within the deadline (`dalgu.testbed.roundtrips`)

rate, jitter and gaps time every message a device sent, stored or refused: a refused message
is still one the device sent on time (why it was refused is the accepted check's business).
schema, types and ranges read every message whose measures were read, stored or refused.
Examples are distinct and taken from each device in turn.
A check without the data it needs (no timestamps, one message per device) is "n/a".
Pure functions: nothing here does I/O.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from dalgu.devices.mapping import number_value
from dalgu.devices.observation import utc_time
from dalgu.devices.traffic import MessageEvent
from dalgu.errors import PayloadError
from dalgu.testbed.profile import DeviceProfile, MeasureSpec

Verdict = Literal["pass", "fail", "n/a"]
# a run's verdict: "incomplete" when no check failed but the run could not show a device's
# timing (rate, jitter, gaps) or its commands: too short, or too few messages
RunVerdict = Literal["pass", "fail", "n/a", "incomplete"]
MAX_EXAMPLES = 5
MAX_REFUSAL_EXAMPLES = 10  # one per device and reason, up to this many
MAX_NAMED_DEVICES = 10  # devices the accepted check's summary names with their refusals
MEASURES_APART = 1.0  # seconds a device's measures sent one by one may lie apart, at most


@dataclass
class Check:
    name: str
    verdict: Verdict
    summary: str
    figures: dict[str, float] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)


@dataclass
class ConformanceReport:
    profile: str
    apikey: str
    started: float
    ended: float
    messages: int
    devices: int
    verdict: RunVerdict
    checks: list[Check]
    refused: dict[str, int] = field(default_factory=dict)  # reason → messages
    refused_by_device: dict[str, dict[str, int]] = field(default_factory=dict)
    not_shown: list[str] = field(default_factory=list)  # the checks an incomplete run lacks

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    profile: DeviceProfile,
    apikey: str,
    events: list[MessageEvent],
    started: float,
    ended: float,
    *,
    max_latency: float = 1.0,
    extra: list[Check] | None = None,
) -> ConformanceReport:
    """Judge a run's messages; `extra` checks (command round trips) join the verdict. The
    devices' command results the gateway refused count as their refused messages, and fail
    the commands check; the other checks judge measures."""
    results = [e for e in events if e.kind == "result"]
    all_devices = {e.device_id for e in events}
    events = [e for e in events if e.kind != "result"]
    by_device: dict[str, list[MessageEvent]] = defaultdict(list)
    for event in events:
        by_device[event.device_id].append(event)
    stored = [e for e in events if e.error is None]
    window = min(profile.interval / 2, MEASURES_APART)
    sendings = {device: _sendings(evs, window) for device, evs in sorted(by_device.items())}
    refused: dict[str, int] = defaultdict(int)
    refused_by_device: dict[str, dict[str, int]] = {}
    for event in [*events, *results]:
        if event.error is not None:
            refused[event.error] += 1
            reasons = refused_by_device.setdefault(event.device_id, {})
            reasons[event.error] = reasons.get(event.error, 0) + 1
    checks = [
        _accepted([*events, *results], refused_by_device),
        *_measures(profile, sendings),
        *_timing(profile, by_device, sendings),
        _gaps(profile, sendings, started, ended),
        _latency(stored, max_latency),
        _timestamps(stored),
        *(_with_refused_results(c, results) for c in extra or []),
    ]
    needed = {"rate", "jitter", "gaps"} | ({"commands"} if profile.commands else set())
    not_shown = [c.name for c in checks if c.name in needed and c.verdict == "n/a"]
    verdict: RunVerdict = "pass"
    if not events and not results:
        verdict = "n/a"
    elif any(c.verdict == "fail" for c in checks):
        verdict = "fail"
    elif not_shown:
        verdict = "incomplete"
    return ConformanceReport(
        profile=profile.name,
        apikey=apikey,
        started=started,
        ended=ended,
        messages=len(events) + len(results),
        devices=len(all_devices),
        verdict=verdict,
        checks=checks,
        refused=dict(refused),
        refused_by_device=dict(sorted(refused_by_device.items())),
        not_shown=not_shown if events else [],
    )


def _with_refused_results(check: Check, results: list[MessageEvent]) -> Check:
    """The commands check, failed by the results the gateway refused (a second answer, a
    command the device does not have): a device answering so is no conforming one."""
    refused = [e for e in results if e.error is not None]
    if check.name != "commands" or not refused:
        return check
    problems = [f"{e.device_id}: result refused: {e.detail}" for e in refused]
    examples = _spread([*problems, *check.examples])
    summary = f"{check.summary}; {len(refused)} result(s) refused"
    figures = {**check.figures, "results_refused": len(refused)}
    return Check("commands", "fail", summary, figures, examples)


def _accepted(events: list[MessageEvent], by_device: dict[str, dict[str, int]]) -> Check:
    """Stored or refused; the summary names each device's refusals by reason, and the
    examples show one refusal per device and reason, the devices in turn."""
    if not events:
        return Check("accepted", "n/a", "no message arrived during the run")
    bad = [e for e in events if e.error is not None]
    firsts: dict[tuple[str, str | None], str] = {}
    for e in bad:
        firsts.setdefault((e.device_id, e.error), f"{e.device_id}: {e.error}: {e.detail}")
    examples = _spread(list(firsts.values()), MAX_REFUSAL_EXAMPLES)
    verdict: Verdict = "fail" if bad else "pass"
    summary = f"{len(events) - len(bad)} of {len(events)} messages stored"
    if by_device:
        named = [
            f"{device} {sum(reasons.values())} ("
            + ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
            + ")"
            for device, reasons in sorted(by_device.items())
        ]
        more = len(named) - MAX_NAMED_DEVICES
        summary += "; refused: " + ", ".join(named[:MAX_NAMED_DEVICES])
        if more > 0:
            summary += f" and {more} more devices (refused_by_device)"
    figures: dict[str, float] = {"refused": len(bad), "refusing_devices": len(by_device)}
    return Check("accepted", verdict, summary, figures, examples)


def _sendings(events: list[MessageEvent], window: float) -> list[list[MessageEvent]]:
    """A device's messages as it sent its readings: messages that arrive within `window` of
    the first of them, none repeating a measure another carries, are one reading sent
    measure by measure (`/<apikey>/<device>/attrs/<attr>`, `/iot/json/attrs/<attr>`)."""
    out: list[list[MessageEvent]] = []
    carried: list[set[str]] = []
    for event in sorted(events, key=lambda e: e.received):
        names = {name for group, _ in event.groups for name in group}
        if (
            out
            and names
            and event.received - out[-1][0].received <= window
            and names.isdisjoint(carried[-1])
        ):
            out[-1].append(event)
            carried[-1] |= names
        else:
            out.append([event])
            carried.append(names)
    return out


def _measures(profile: DeviceProfile, sendings: dict[str, list[list[MessageEvent]]]) -> list[Check]:
    """What the devices sent, against the profile: every message whose measures were read,
    stored or refused (a value refused for its type is a wrong type all the same); a
    reading sent measure by measure lacks what none of its messages carries."""
    specs = {m.object_id: m for m in profile.measures}
    required = {m.object_id for m in profile.measures if m.required}
    schema: list[str] = []
    types: list[str] = []
    ranges: list[str] = []
    read = [e for device in sendings.values() for s in device for e in s if e.groups]
    values = in_refused = 0
    for device, readings in sendings.items():
        for sending in readings:
            if len(sending) > 1:
                sent = {name for e in sending for group, _ in e.groups for name in group}
                if missing := required - sent:
                    schema.append(f"{device}: missing {', '.join(sorted(missing))}")
            for event in sending:
                values, in_refused = _values(
                    event,
                    specs,
                    required if len(sending) == 1 else set(),
                    schema,
                    types,
                    ranges,
                    (values, in_refused),
                )
    if not read:
        return [Check(n, "n/a", "no message with measures") for n in ("schema", "types", "ranges")]
    checked = f"{values} values checked"
    if in_refused:
        checked += f" ({in_refused} in refused messages)"
    return [
        _tally("schema", schema, f"{len(read)} messages against {len(specs)} declared measures"),
        _tally("types", types, checked),
        _tally("ranges", ranges, checked),
    ]


def _values(
    event: MessageEvent,
    specs: dict[str, MeasureSpec],
    required: set[str],
    schema: list[str],
    types: list[str],
    ranges: list[str],
    counts: tuple[int, int],
) -> tuple[int, int]:
    """One message's measures against the profile; the values counted, and those refused."""
    values, in_refused = counts
    device = event.device_id
    tag = "" if event.error is None else f" (refused: {event.error})"
    for group, _ in event.groups:
        missing = required - set(group)
        if missing:
            schema.append(f"{device}: missing {', '.join(sorted(missing))}{tag}")
        for key, raw in group.items():
            spec = specs.get(key)
            if spec is None:
                schema.append(f"{device}: undeclared measure {key!r}{tag}")
                continue
            values += 1
            in_refused += event.error is not None
            number = _typed(spec, raw)
            if number is _WRONG:
                types.append(f"{device}: {key}={raw!r} is not {spec.type}{tag}")
            elif number is _UNLISTED:
                listed = ", ".join(spec.values or ())
                ranges.append(f"{device}: {key}={raw!r} not one of {listed}{tag}")
            elif isinstance(number, float) and not _within(spec, number):
                ranges.append(f"{device}: {key}={raw} outside [{spec.min}, {spec.max}]{tag}")
            elif isinstance(number, list) and not all(_within(spec, x) for x in number):
                ranges.append(f"{device}: {key}={raw} not all within [{spec.min}, {spec.max}]{tag}")
    return values, in_refused


_WRONG = object()  # not of the measure's type
_UNLISTED = object()  # a Text, but not one of the measure's `values`


def _typed(spec: MeasureSpec, raw: Any) -> Any:
    if spec.type in ("Number", "Integer"):  # as the gateway reads them (its number syntax)
        try:
            return float(number_value(raw, spec.object_id, integer=spec.type == "Integer"))
        except PayloadError:
            return _WRONG
    if spec.type == "ListProperty":  # a JSON array of finite numbers
        if not isinstance(raw, list):
            return _WRONG
        numbers = [x for x in raw if isinstance(x, int | float) and not isinstance(x, bool)]
        if len(numbers) != len(raw) or not all(math.isfinite(x) for x in numbers):
            return _WRONG
        return [float(x) for x in numbers]
    if spec.type == "Boolean":
        ok = isinstance(raw, bool) or str(raw).lower() in ("true", "false", "1", "0")
        return None if ok else _WRONG
    if spec.type == "Text" and spec.values is not None:
        if not isinstance(raw, str):
            return _WRONG
        return None if raw in spec.values else _UNLISTED
    return None


def _within(spec: MeasureSpec, value: float) -> bool:
    return (spec.min is None or value >= spec.min) and (spec.max is None or value <= spec.max)


def _tally(name: str, problems: list[str], what: str) -> Check:
    """A check's verdict from its problems, each "<device>: …"."""
    if not problems:
        return Check(name, "pass", what, {"problems": 0})
    devices = len({_device(p) for p in problems})
    summary = f"{what}; {len(problems)} problem(s) from {devices} device(s)"
    return Check(name, "fail", summary, {"problems": len(problems)}, _spread(problems))


def _device(problem: str) -> str:
    return problem.split(": ", 1)[0]


def _spread(problems: list[str], limit: int = MAX_EXAMPLES) -> list[str]:
    """Up to `limit` distinct problems, taken from each device in turn: a device with many
    does not hide the others."""
    by_device: dict[str, list[str]] = {}
    for problem in dict.fromkeys(problems):
        by_device.setdefault(_device(problem), []).append(problem)
    turns = itertools.zip_longest(*by_device.values())
    return [p for turn in turns for p in turn if p is not None][:limit]


def _stamps(events: list[MessageEvent]) -> list[tuple[float, str]]:
    """The device times the messages gave (not their arrival: that is no device's time), in
    epoch seconds and as the device wrote them."""
    out = []
    for event in events:
        for _, stamp in event.groups:
            parsed = _epoch(stamp)
            if parsed is not None and stamp is not None:
                out.append((parsed, stamp))
    return out


def _epoch(stamp: str | None) -> float | None:
    """A device time as the gateway reads it (`utc_time`), in epoch seconds."""
    utc = utc_time(stamp) if stamp else None
    if utc is None:
        return None
    return datetime.fromisoformat(utc.replace("Z", "+00:00")).timestamp()


def _timestamps(stored: list[MessageEvent]) -> Check:
    """Device times (UltraLight group times, `TimeInstant`, HTTP `t`) that are no ISO 8601
    time: the gateway observes those measures at their arrival, and the firm should know its
    devices' clock field is broken."""
    given = 0
    broken: list[str] = []
    for event in stored:
        for _, stamp in event.groups:
            if stamp is None:
                continue
            given += 1
            if _epoch(stamp) is None:
                broken.append(f"{event.device_id}: device time {stamp!r} is not ISO 8601")
    if not given:
        return Check("timestamps", "n/a", "no device times given")
    return _tally("timestamps", broken, f"{given} device times, each ISO 8601")


def _timing(
    profile: DeviceProfile,
    by_device: dict[str, list[MessageEvent]],
    sendings: dict[str, list[list[MessageEvent]]],
) -> list[Check]:
    interval, tolerance = profile.interval, profile.interval * profile.jitter
    medians: list[str] = []
    intervals: list[float] = []
    duplicates: list[str] = []
    disorder: list[str] = []
    stamped = False  # some device gave two device times in stored messages
    for device, events in sorted(by_device.items()):
        stamps = _stamps([e for e in events if e.error is None])
        stamped = stamped or len(stamps) > 1
        seen: set[float] = set()
        for before, after in itertools.pairwise(stamps):
            if after[0] < before[0]:
                disorder.append(f"{device}: {after[1]} after {before[1]}")
        for at, written in stamps:
            if at in seen:
                duplicates.append(f"{device}: timestamp {written} sent twice")
            seen.add(at)
        # each reading (stored or refused: all were sent; measure by measure: one reading)
        arrivals = [sending[0].received for sending in sendings[device]]
        steps = [b - a for a, b in itertools.pairwise(arrivals)]
        intervals += steps
        if steps:
            median = statistics.median(steps)
            if abs(median - interval) > tolerance:
                medians.append(f"{device}: median interval {median:.3f} s, expected {interval} s")
    checks: list[Check] = []
    if not intervals:
        na = "needs two messages from one device"
        checks += [Check(n, "n/a", na) for n in ("rate", "jitter")]
    else:
        within = sum(1 for s in intervals if abs(s - interval) <= tolerance) / len(intervals)
        jitter_verdict: Verdict = "pass" if within >= 0.95 else "fail"
        figures = {
            "interval_median_s": statistics.median(intervals),
            "interval_p99_s": percentile(intervals, 0.99),
            "within_jitter_share": within,
        }
        checks += [
            _tally("rate", medians, f"expected one message per {interval} s per device"),
            Check(
                "jitter",
                jitter_verdict,
                f"{within:.1%} of intervals within ±{tolerance:.3g} s of {interval} s",
                figures,
            ),
        ]
    if not stamped:
        na = "needs two stored messages with device times"
        return [*checks, *(Check(n, "n/a", na) for n in ("duplicates", "order"))]
    return [
        *checks,
        _tally("duplicates", duplicates, "device timestamps unique per device"),
        _tally("order", disorder, "device timestamps never go back"),
    ]


def _gaps(
    profile: DeviceProfile,
    by_device: dict[str, list[list[MessageEvent]]],
    started: float,
    ended: float,
) -> Check:
    """Each device's silences: before its first message (stored or refused), between its
    messages, and after its last until the run's end. A run no longer than the bound cannot
    show that no silence exceeds it: the check is then "n/a", never a pass."""
    bound, duration = 2 * profile.interval, ended - started
    if bound >= duration:
        return Check(
            "gaps",
            "n/a",
            f"not shown: the run lasted {duration:.3g} s, and a silence longer than "
            f"{bound:.3g} s (twice the interval) needs a longer run",
        )
    gaps: list[str] = []
    heard = 0
    for device, events in sorted(by_device.items()):
        arrivals = [sending[0].received for sending in events]
        heard += 1
        first, last = arrivals[0] - started, ended - arrivals[-1]
        if first > bound:
            gaps.append(f"{device}: silent for the first {first:.1f} s of the run")
        gaps += [
            f"{device}: silent for {b - a:.1f} s"
            for a, b in itertools.pairwise(arrivals)
            if b - a > bound
        ]
        if last > bound:
            gaps.append(f"{device}: silent for the last {last:.1f} s of the run")
    if not heard:
        return Check("gaps", "n/a", "no message")
    return _tally("gaps", gaps, f"no silence longer than {bound:.3g} s, start to end of the run")


def _latency(stored: list[MessageEvent], limit: float) -> Check:
    delays = []
    for event in stored:
        if event.stored is None:
            continue
        for _, stamp in event.groups:
            sent = _epoch(stamp)
            if sent is not None:
                delays.append(event.stored - sent)
    if not delays:
        return Check("latency", "n/a", "no device timestamps to measure from")
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    verdict: Verdict = "pass" if p99 <= limit and min(delays) > -limit else "fail"
    summary = f"device timestamp to stored: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    if min(delays) < 0:
        summary += f"; some clocks run ahead (by up to {-min(delays):.3f} s)"
    return Check("latency", verdict, summary, {"p50_s": p50, "p99_s": p99, "min_s": min(delays)})


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
