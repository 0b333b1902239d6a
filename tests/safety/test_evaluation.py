"""The evaluation on a small held-out set, in the test run: figures asserted, baseline beaten.

The full held-out figures (40 drives) are in docs/safety-evaluation.md; this set is small so
each bar here is the floor the detectors must keep, not the published target where they miss
it (see the document for which targets are missed and why).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dalgu.cli.app import app
from dalgu.safety.campaign import (
    HELD_OUT_SEEDS,
    TUNING_SEEDS,
    CampaignResult,
    evaluate_seeds,
    learn_seed_baselines,
)
from dalgu.safety.evaluation import (
    LOST_AT_ONSET,
    Outcome,
    Targets,
    mark_signal_loss,
    match,
    report,
)
from dalgu.safety.generator import generate_scenario
from dalgu.safety.scenario import Event, read_scenario, write_scenario

SMALL_SET = list(HELD_OUT_SEEDS[:12])


@pytest.fixture(scope="module")
def campaign():  # type: ignore[no-untyped-def]
    return evaluate_seeds(SMALL_SET, workers=2)


def test_the_small_set_is_held_out(campaign) -> None:  # type: ignore[no-untyped-def]
    assert campaign.split == "held-out"


def test_fresh_ranges_past_5999_are_held_out_and_tuning_seeds_are_not() -> None:
    empty = report([])
    assert CampaignResult(empty, empty, (6040, 6199), ()).split == "held-out"
    # 6000-6999 were used up by round 18: the fresh ranges go on from 7000 to 8999
    assert CampaignResult(empty, empty, (6840, 7000, 7320, 8999), ()).split == "held-out"
    assert CampaignResult(empty, empty, (8999, 9000), ()).split == "mixed"
    assert CampaignResult(empty, empty, (6040, 1000), ()).split == "mixed"
    assert CampaignResult(empty, empty, (1000, 1319), ()).split == "tuning"


def test_false_alarm_targets_are_met_and_the_baseline_is_worse(campaign) -> None:  # type: ignore[no-untyped-def]
    ours, base = campaign.detectors.rows, campaign.baseline.rows
    checks = Targets().check(campaign.detectors)
    assert checks["drowsiness false alarms/h"][2]
    assert checks["medical false alarms/h"][2]
    for row in ("drowsiness", "medical"):
        assert ours[row].f1 > base[row].f1 + 0.5
        assert base[row].false_alarms_per_hour > 3 * max(ours[row].false_alarms_per_hour, 0.1)


def test_recall_and_latency_floors(campaign) -> None:  # type: ignore[no-untyped-def]
    # measured on this set at 2770281 (round 6's generator: every block of 20 seeds has every
    # kind, and an emergency under a slipping band): drowsiness 5 of 5, p50 40.1 s; medical
    # 6 of 6, p50 9.2 s, p95 52.7 s: three of the six began with the band lost (found when it
    # came back, 12-60 s), the other three within 4.4-6.1 s. Round 7 (safety7): the same,
    # but p50 8.2 s: the asystole under a lost band is found by the car after 10.3 s (12.3).
    # Round 8 (safety8, the car's own heart-rate sensor): the same figures; this set's
    # lost-band events are two desaturations (no SpO2 in the car) and that asystole
    drowsy, medical = campaign.detectors.rows["drowsiness"], campaign.detectors.rows["medical"]
    assert drowsy.events >= 5 and medical.events >= 4
    checks = Targets().check(campaign.detectors)
    assert checks["drowsiness recall"][2]  # one episode missed of 5 would fail it
    assert drowsy.latency_p50 is not None and drowsy.latency_p50 <= 75
    assert checks["medical recall"][2]
    assert campaign.detectors.rows[LOST_AT_ONSET].events >= 1
    usable = [
        latency
        for outcome in campaign.outcomes
        for event, latency in outcome.detected
        if event.category == "medical" and not event.detail.get("wearableLostAtOnset")
    ]
    assert len(usable) >= 3 and max(usable) <= 10  # the target, where the band could see


def test_matching_counts_early_drowsiness_and_late_false_alarms() -> None:
    from dalgu.safety.alert import Alert

    def alert(kind: str, at: float) -> Alert:
        return Alert("v", None, kind, "x", "high", 0.9, at, at, {}, None)

    events = [Event("drowsiness", 1000, 1300), Event("cardiac", 1500, 1560)]
    outcome = match(
        events, [alert("drowsiness", 900), alert("cardiac", 1497), alert("drowsiness", 1400)], 3600
    )
    assert [(e.type, lat) for e, lat in outcome.detected] == [("drowsiness", 0.0), ("cardiac", 0.0)]
    assert [a.raised for a in outcome.false_alerts] == [1400]


def test_scenarios_round_trip_through_files(tmp_path: Path) -> None:
    scenario = generate_scenario(HELD_OUT_SEEDS[0], duration=900)
    path = write_scenario(tmp_path, scenario)
    again = read_scenario(path)
    assert again.labels == scenario.labels
    assert len(again.samples) == len(scenario.samples)
    assert again.samples[5].signals == scenario.samples[5].signals


def test_the_same_seed_gives_the_same_scenario() -> None:
    a, b = generate_scenario(7, duration=900), generate_scenario(7, duration=900)
    assert a.labels == b.labels and a.samples[-1] == b.samples[-1]


def test_a_bad_line_names_its_number(tmp_path: Path) -> None:
    scenario = generate_scenario(8, duration=900)
    path = write_scenario(tmp_path, scenario)
    lines = path.read_bytes().splitlines()
    lines[3] = b'{"t": 1, "source": "radio", "signals": {}}'
    path.write_bytes(b"\n".join(lines))
    result = CliRunner().invoke(app, ["safety", "evaluate", "--scenarios", str(tmp_path)])
    assert result.exit_code == 2
    assert "line 4" in result.output


def test_cli_generates_and_evaluates(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["safety", "generate", "--out", str(tmp_path), "--seeds", "5000-5001", "--duration", "900"],
    )
    assert made.exit_code == 0, made.output
    report = tmp_path / "report.json"
    result = runner.invoke(
        app,
        [
            "safety",
            "evaluate",
            "--scenarios",
            str(tmp_path),
            "--workers",
            "1",
            "--json",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "held-out" in result.output and "threshold baseline" in result.output
    assert report.exists()


def test_every_block_of_twenty_seeds_holds_every_event_kind() -> None:
    from dalgu.safety.plan import BLOCK, MEDICAL_KINDS, block_draw

    for first in (TUNING_SEEDS[0], HELD_OUT_SEEDS[0], HELD_OUT_SEEDS[0] + 7 * BLOCK):
        draws = [block_draw(seed) for seed in range(first, first + BLOCK)]
        assert {d.medical for d in draws if d.medical is not None} == set(MEDICAL_KINDS)
        assert sum(d.mix in ("drowsy", "both") for d in draws) == 10
        assert sum(d.band_off_at_onset for d in draws) == 1
        assert all(d.medical is not None for d in draws if d.band_off_at_onset)


def test_a_drawn_emergency_under_a_slipping_band_is_marked_lost_at_onset() -> None:
    from dalgu.safety.plan import block_draw

    seed = next(s for s in HELD_OUT_SEEDS if block_draw(s).band_off_at_onset)
    labels = generate_scenario(seed).labels
    [event] = [
        e for e in mark_signal_loss(labels.events, labels.confounders) if e.category == "medical"
    ]
    slips = [c for c in labels.confounders if c.type == "wearable-slip"]
    assert any(event.onset - 10 <= c.onset <= event.onset + 5 for c in slips)
    # from 10 s before to 5 s after the onset, for at least 15 s: half the first 10 s
    assert event.detail.get("wearableLostAtOnset") is True


def test_signal_loss_marks_only_medical_events_whose_band_was_lost_for_half_the_first_10_s() -> (
    None
):
    events = [
        Event("cardiac", 100, 160),
        Event("hypoxaemia", 300, 360),
        Event("drowsiness", 500, 900),
    ]
    confounders = [
        Event("wearable-slip", 95, 106),  # 6 s of the first 10: marked
        Event("wearable-dropout", 303, 306),  # 3 s: not
        Event("wearable-slip", 490, 700),  # drowsiness is never marked
    ]
    marked = mark_signal_loss(events, confounders)
    assert [bool(e.detail.get("wearableLostAtOnset")) for e in marked] == [True, False, False]


EARLY_SET = range(7160, 7172)  # the first of round 20's fresh early drives (held out)


def test_emergencies_in_the_first_ten_minutes_are_found() -> None:
    # measured on this set at 3485157 (round 20): 12 of 12 (2 desaturations, 2 losses of
    # control, 8 cardiac), no false alarm, p50 6.2 s; main before it (4cbf1a3) found 10 of
    # 12: one desaturation and one loss of control missed, the other two found 50 and 96 s
    # late, once the ten minutes were over
    campaign = evaluate_seeds(EARLY_SET, workers=2, mix="early")
    assert campaign.split == "held-out"
    medical = campaign.detectors.rows["medical"]
    assert medical.events == 12
    assert Targets().check(campaign.detectors)["medical recall"][2]
    assert medical.false_alarms_per_hour == 0.0
    for kind in ("hypoxaemia", "incapacitation"):
        assert (
            campaign.detectors.rows[kind].events >= 2
            and campaign.detectors.rows[kind].recall == 1.0
        )
    assert medical.latency_p50 is not None and medical.latency_p50 <= 10
    assert medical.f1 > campaign.baseline.rows["medical"].f1 + 0.3


TIRED_SET = range(7320, 7332)  # the first of round 21's fresh tired drives (held out)
AWAKE_SET = range(7440, 7480)  # awake drives of the same drivers, recorded apart (as there)


@pytest.mark.slow
def test_drivers_who_set_off_tired_are_found_against_their_stored_reference() -> None:
    # on the whole fresh range (7320-7439, 120 drives, baselines from 7440-7479) at 96a91a2:
    # 120 of 120 found, p50 28.9 s, 0.27 false alarms/h; with no stored baseline 0.72, p50
    # 281.7 s (the episode is read only after the ten minutes, against the tired start)
    baselines = learn_seed_baselines(AWAKE_SET, duration=1800.0, workers=2)
    campaign = evaluate_seeds(TIRED_SET, workers=2, mix="tired", baselines=baselines)
    assert campaign.split == "held-out"
    drowsiness = campaign.detectors.rows["drowsiness"]
    assert drowsiness.events == 12
    met = Targets().check(campaign.detectors)
    for target in ("drowsiness recall", "drowsiness false alarms/h", "drowsiness latency p50 (s)"):
        assert met[target][2], (target, met[target])
    assert campaign.detectors.rows["medical"].false_alarms_per_hour <= 0.2


def test_targets_of_events_a_set_does_not_hold_are_not_measured() -> None:
    awake = Targets().check(report([Outcome(2.0)]))  # two hours, no event, no alert
    assert awake["drowsiness recall"] == (None, 0.92, None)
    assert awake["medical latency p95 (s)"] == (None, 10.0, None)
    assert awake["medical false alarms/h"] == (0.0, 0.2, True)
    missed = Targets().check(report([Outcome(1.0, missed=[Event("drowsiness", 700, 900)])]))
    assert missed["drowsiness recall"] == (0.0, 0.92, False)
    assert missed["drowsiness latency p50 (s)"] == (None, 60.0, False)  # none found: missed
