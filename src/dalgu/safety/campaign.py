"""An evaluation campaign: a set of scenarios replayed through Dalgu's detectors and the threshold
baseline in the same run, scenario by scenario (in parallel worker processes when asked).

Seeds name the split: `TUNING_SEEDS` are the ones the detectors' parameters were chosen on;
the published figures come from `HELD_OUT_SEEDS`, which were not looked at while tuning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from dalgu.safety.detectors.awake import DriverBaseline
from dalgu.safety.detectors.base import CALIBRATION
from dalgu.safety.evaluation import (
    Outcome,
    Report,
    learn_drive,
    mark_signal_loss,
    match,
    replay,
    report,
)
from dalgu.safety.generator import generate_scenario
from dalgu.safety.monitor import baseline_detectors, standard_detectors
from dalgu.safety.rates import rate_notes, source_rates
from dalgu.safety.scenario import Scenario, read_scenario

TUNING_SEEDS = range(1000, 2000)
# 5000-5999 were used up by round 12 (its fresh range ran to 6039) and 6000-6999 by round 18
# (its fresh range was 6840-6999); round 19's was 7000-7159, round 20's 7160-7319 (early
# emergencies, and quiet drives for the drivers' baselines): the next fresh range starts at
# 7320; never a tuning seed
HELD_OUT_SEEDS = range(5000, 9000)


@dataclass(frozen=True)
class CampaignResult:
    detectors: Report
    baseline: Report
    seeds: tuple[int | None, ...]
    outcomes: tuple[Outcome, ...]

    @property
    def splits(self) -> dict[str, int]:
        """How many drives of each split: held-out, tuning, unknown (no seed, or a seed in
        neither range: scenarios brought from elsewhere)."""
        counts = Counter(split_of(s) for s in self.seeds)
        return {name: counts[name] for name in ("held-out", "tuning", "unknown") if counts[name]}

    @property
    def split(self) -> str:
        """held-out, tuning or unknown when all drives are of one; mixed otherwise."""
        splits = self.splits
        return next(iter(splits)) if len(splits) == 1 else "mixed" if splits else "unknown"


def split_of(seed: int | None) -> str:
    if seed in HELD_OUT_SEEDS:
        return "held-out"
    return "tuning" if seed in TUNING_SEEDS else "unknown"


Baselines = dict[str, DriverBaseline]  # by driver
T = TypeVar("T")


def _score(
    scenario: Scenario, baselines: Baselines | None = None
) -> tuple[int | None, Outcome, Outcome]:
    """The drive's alerts matched against its events, ours (read against its driver's
    baseline when `baselines` has one) and the threshold baseline's."""
    labels = scenario.labels
    baseline = baselines.get(labels.driver) if baselines and labels.driver else None
    events = mark_signal_loss(labels.events, labels.confounders)
    ours = match(events, replay(scenario, standard_detectors, baseline), labels.duration)
    base = match(events, replay(scenario, baseline_detectors), labels.duration)
    ours.scenario = base.scenario = labels.scenario
    ours.notes = [*scenario.notes, *rate_notes(*source_rates(scenario.samples))]
    if baselines is not None and baseline is None:
        ours.notes.append(f"no baseline of its driver {labels.driver!r} was found")
    return labels.seed, ours, base


def _score_file(
    path: Path, baselines: Baselines | None = None
) -> tuple[int | None, Outcome, Outcome]:
    return _score(read_scenario(path), baselines)


def _learn_file(path: Path) -> DriverBaseline | None:
    return _learn(read_scenario(path))


def _learn_seed(seed: int, duration: float, mix: str) -> DriverBaseline | None:
    return _learn(generate_scenario(seed, duration=duration, mix=mix))


def _learn(scenario: Scenario) -> DriverBaseline | None:
    labels = scenario.labels
    if not labels.driver:
        return None
    calibration = learn_drive(scenario)
    if calibration is None or calibration.empty:
        return None
    start = datetime.fromisoformat(labels.start.replace("Z", "+00:00")).timestamp()
    return DriverBaseline.of(labels.driver, calibration, start + CALIBRATION, labels.vehicle)


def learn_baselines(paths: Sequence[Path], workers: int = 1) -> Baselines:
    """Each driver's awake baseline from their drives in `paths`: the levels of the latest drive
    (by its start) whose first ten minutes raised no alert, as the live service keeps them."""
    return _newest(_each(_learn_file, paths, workers))


def learn_seed_baselines(
    seeds: Sequence[int], duration: float = 900.0, mix: str = "quiet", workers: int = 1
) -> Baselines:
    """`learn_baselines` from generated drives (in memory, no files)."""
    return _newest(_each(_learn_seed, seeds, workers, duration, mix))


def _each(function: Callable[..., T], items: Sequence[Any], workers: int, *shared: Any) -> list[T]:
    """`function(item, *shared)` for each item, in `workers` processes (in this one for 1)."""
    if workers <= 1:
        return [function(item, *shared) for item in items]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(function, items, *([value] * len(items) for value in shared)))


def _newest(learnt: Sequence[DriverBaseline | None]) -> Baselines:
    baselines: Baselines = {}
    for baseline in sorted((b for b in learnt if b is not None), key=lambda b: b.learnt_at):
        baselines[baseline.driver] = baseline
    return baselines


def _score_seed(
    seed: int, duration: float, mix: str = "mixed", baselines: Baselines | None = None
) -> tuple[int | None, Outcome, Outcome]:
    return _score(generate_scenario(seed, duration=duration, mix=mix), baselines)


def _collect(results: list[tuple[int | None, Outcome, Outcome]]) -> CampaignResult:
    return CampaignResult(
        report([r[1] for r in results]),
        report([r[2] for r in results]),
        tuple(r[0] for r in results),
        tuple(r[1] for r in results),
    )


def evaluate_files(
    paths: Sequence[Path], workers: int = 1, baselines: Baselines | None = None
) -> CampaignResult:
    """Replay scenario files (their signals files) as fast as they can be read; each drive
    read against its driver's stored baseline (`learn_baselines`) when given one."""
    return _collect(_each(_score_file, paths, workers, baselines))


def evaluate_seeds(
    seeds: Sequence[int],
    duration: float = 1800.0,
    workers: int = 1,
    mix: str = "mixed",
    baselines: Baselines | None = None,
) -> CampaignResult:
    """Generate and replay scenarios in memory (no files); each drive read against its
    driver's stored baseline when `baselines` has one."""
    return _collect(_each(_score_seed, seeds, workers, duration, mix, baselines))
