"""How the drowsiness model is learnt, from tuning drives only.

1. Each tuning drive is replayed through `DrowsinessFeatures`, exactly as the live detector sees
   it, and its feature vectors are recorded (one every 10 s after the awake baseline).
2. Each vector is labelled drowsy from `POSITIVE_LEAD` s before a labelled onset to the episode's
   end, awake away from any episode (more than `LEAD_IN` s before it, `AFTER` s after it) and
   outside any medical emergency; the ones between are left out (the body is on its way).
3. An L2-regularised logistic regression (SciPy's L-BFGS) is fitted to them.
4. The CUSUM's drift and limit are chosen on out-of-fold log-odds (the drives split in
   `FOLDS`, each scored by the model fitted on the others), by replaying the alert logic: the
   shortest median latency that still finds `RECALL_FLOOR` of the episodes with at most
   `fa_budget` false alarms per driving hour (margins under the held-out bars, 0.92 and 0.5).
   The final model is fitted on all the drives.

The seeds are checked: a held-out seed here would make every published figure a tuning figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from dalgu.errors import BadRequestData
from dalgu.safety.alert import Alert
from dalgu.safety.campaign import TUNING_SEEDS
from dalgu.safety.detectors.base import Finding, Quality
from dalgu.safety.detectors.drowsiness import CEILING
from dalgu.safety.detectors.drowsiness_features import FEATURES, DrowsinessFeatures
from dalgu.safety.detectors.drowsiness_model import DrowsinessModel
from dalgu.safety.evaluation import match, replay, report
from dalgu.safety.fusion import ESCALATE, ESCALATE_AFTER, HOLD
from dalgu.safety.history import History
from dalgu.safety.scenario import Event, Scenario, read_scenario

Array = NDArray[np.float64]
POSITIVE_LEAD = 120.0  # s before the labelled onset from which a window counts as drowsy
LEAD_IN = 240.0  # s: the generator's body starts changing this long before the onset
AFTER = 120.0  # s after an episode before the driver counts as awake again
FOLDS = 2
L2 = 1.0
RECALL_FLOOR = 0.97  # of episodes found out of fold: the held-out bar (0.92) with a margin
DRIFTS = tuple(float(d) for d in np.arange(-1.0, 4.01, 0.25))
LIMITS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0)


@dataclass(frozen=True)
class Recording:
    """One drive's feature vectors (rows of `x`, at `times`) and its labelled events."""

    seed: int | None
    duration: float
    events: tuple[Event, ...]
    times: Array
    x: Array


class _Recorder:
    name = "drowsiness-features"

    def __init__(self) -> None:
        self.features = DrowsinessFeatures()
        self.rows: list[tuple[float, list[float]]] = []

    def step(self, history: History, quality: Quality) -> Finding | None:
        x = self.features.observe(history)
        if x is not None:
            self.rows.append((history.now, [x[f] for f in FEATURES]))
        return None


def record(scenario: Scenario) -> Recording:
    recorder = _Recorder()
    replay(scenario, lambda: [recorder])
    labels = scenario.labels
    return Recording(
        labels.seed,
        labels.duration,
        labels.events,
        np.array([t for t, _ in recorder.rows], dtype=np.float64),
        np.array([x for _, x in recorder.rows], dtype=np.float64).reshape(-1, len(FEATURES)),
    )


def _record_file(path: Path) -> Recording:
    return record(read_scenario(path))


def record_files(paths: Sequence[Path], workers: int = 1) -> list[Recording]:
    """Record tuning drives; a drive of another split is refused."""
    if workers <= 1:
        recordings = [_record_file(p) for p in paths]
    else:
        with ProcessPoolExecutor(workers) as pool:
            recordings = list(pool.map(_record_file, paths))
    outside = [r.seed for r in recordings if r.seed not in TUNING_SEEDS]
    if outside:
        raise BadRequestData(f"not tuning seeds (1000-1999): {outside[:5]}")
    return recordings


def targets(recording: Recording) -> tuple[Array, Array]:
    """Per feature vector: 1 drowsy, 0 awake, and its weight (0: left out)."""
    y = np.zeros(len(recording.times))
    weight = np.ones(len(recording.times))
    t = recording.times
    for e in recording.events:
        if e.category == "drowsiness":
            y[(t >= e.onset - POSITIVE_LEAD) & (t <= e.end)] = 1.0
            weight[(t >= e.onset - LEAD_IN) & (t < e.onset - POSITIVE_LEAD)] = 0.0
            weight[(t > e.end) & (t <= e.end + AFTER)] = 0.0
        else:
            weight[t >= e.onset] = 0.0  # a medical emergency ends the drive
    return y, weight


def fit_logistic(x: Array, y: Array, weight: Array, l2: float = L2) -> tuple[Array, float]:
    """Weights and bias minimising the weighted log-loss plus l2/2·|w|² (bias not penalised)."""
    n = max(float(weight.sum()), 1.0)

    def loss(theta: Array) -> tuple[float, Array]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        # log(1 + e^z) - y·z, computed without overflow
        value = float((weight * (np.logaddexp(0.0, z) - y * z)).sum() / n + 0.5 * l2 * w @ w / n)
        residual = weight * (1.0 / (1.0 + np.exp(-z)) - y) / n
        gradient = np.concatenate([x.T @ residual + l2 * w / n, [residual.sum()]])
        return value, gradient

    start = np.zeros(x.shape[1] + 1)
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    return np.asarray(result.x[:-1], dtype=np.float64), float(result.x[-1])


def raised(times: Array, log_odds: Array, drift: float, limit: float) -> list[float]:
    """When alerts would be raised: the detector's CUSUM and the alert policy's hold (from the
    last finding) and escalation (once an episode, log-odds `ESCALATE` above the alert's, not
    sooner than `ESCALATE_AFTER` after it)."""
    hold, step = HOLD["drowsiness"], ESCALATE["drowsiness"]
    after = ESCALATE_AFTER["drowsiness"]
    cusum, last, out, alerted_at = 0.0, -np.inf, [], -np.inf
    alerted: float | None = None  # the log-odds that raised the episode's alert, until it escalates
    for t, value in zip(times.tolist(), log_odds.tolist(), strict=True):
        cusum = min(max(0.0, cusum + value - drift), CEILING * limit)
        if cusum >= limit:
            if t - last >= hold:
                out.append(t)
                alerted, alerted_at = value, t
            elif alerted is not None and value >= alerted + step and t - alerted_at >= after:
                out.append(t)
                alerted = None
            last = t
    return out


@dataclass(frozen=True)
class Figures:
    recall: float
    false_alarms_per_hour: float
    latency_p50: float
    latency_p95: float


def figures(
    recordings: Sequence[Recording], log_odds: Sequence[Array], drift: float, limit: float
) -> Figures:
    """The drowsiness row of the report for these log-odds, drift and limit."""
    outcomes = []
    for recording, values in zip(recordings, log_odds, strict=True):
        # from a medical emergency on, the alert policy keeps drowsiness findings out of alerts
        # (they are part of the emergency) and the drive ends with it
        medical = min((e.onset for e in recording.events if e.category == "medical"), default=None)
        alerts = [
            Alert("v", None, "drowsiness", "x", "medium", 0.9, t, t, {}, None)
            for t in raised(recording.times, values, drift, limit)
            if medical is None or t < medical
        ]
        events = [e for e in recording.events if e.category == "drowsiness"]
        outcomes.append(match(events, alerts, recording.duration))
    row = report(outcomes).rows["drowsiness"]
    return Figures(
        row.recall,
        row.false_alarms_per_hour,
        row.latency_p50 if row.latency_p50 is not None else np.inf,
        row.latency_p95 if row.latency_p95 is not None else np.inf,
    )


def choose(
    recordings: Sequence[Recording],
    log_odds: Sequence[Array],
    fa_budget: float,
    recall_floor: float = RECALL_FLOOR,
) -> tuple[float, float, Figures]:
    """Drift and limit: within the false-alarm budget and recall floor, the soonest (p50, then
    p95); when none reaches the floor, the most episodes found."""
    best: tuple[tuple[float, float, float], float, float, Figures] | None = None
    for drift in DRIFTS:
        for limit in LIMITS:
            f = figures(recordings, log_odds, drift, limit)
            if f.false_alarms_per_hour > fa_budget:
                continue
            key = (max(0.0, recall_floor - f.recall), f.latency_p50, f.latency_p95)
            if best is None or key < best[0]:
                best = (key, drift, limit, f)
    if best is None:
        raise BadRequestData(f"no drift and limit keep false alarms under {fa_budget}/h")
    return best[1], best[2], best[3]


def fit(recordings: Sequence[Recording], fitted_on: str, fa_budget: float) -> DrowsinessModel:
    """The model: logistic weights on all the drives, CUSUM chosen on out-of-fold log-odds."""
    out_of_fold: list[Array] = [np.zeros(0)] * len(recordings)
    for fold in range(FOLDS):
        train = [r for i, r in enumerate(recordings) if i % FOLDS != fold]
        w, b = _fit(train)
        for i, r in enumerate(recordings):
            if i % FOLDS == fold:
                out_of_fold[i] = r.x @ w + b
    drift, limit, held = choose(recordings, out_of_fold, fa_budget)
    w, b = _fit(recordings)
    own = figures(recordings, [r.x @ w + b for r in recordings], drift, limit)
    return DrowsinessModel(
        FEATURES,
        tuple(round(float(v), 5) for v in w),
        round(b, 5),
        drift,
        limit,
        fitted_on,
        {
            "drives": float(len(recordings)),
            "outOfFoldRecall": round(held.recall, 3),
            "outOfFoldFalseAlarmsPerHour": round(held.false_alarms_per_hour, 3),
            "outOfFoldLatencyP50": round(held.latency_p50, 1),
            "recall": round(own.recall, 3),
            "falseAlarmsPerHour": round(own.false_alarms_per_hour, 3),
            "latencyP50": round(own.latency_p50, 1),
        },
    )


def _fit(recordings: Sequence[Recording]) -> tuple[Array, float]:
    x = np.vstack([r.x for r in recordings])
    pairs = [targets(r) for r in recordings]
    y = np.concatenate([p[0] for p in pairs])
    weight = np.concatenate([p[1] for p in pairs])
    return fit_logistic(x, y, weight)
