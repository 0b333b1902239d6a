"""Drowsiness: the driver's own signals (`drowsiness_features`) weighed by a logistic model learnt
on the tuning drives (`drowsiness_model`), and a sequential test on its log-odds.

A CUSUM adds up, evaluation after evaluation, how far the log-odds stand above the model's
`drift`, never going below zero; the finding comes when the sum reaches the model's `limit`.
Weak but steady evidence (the heart slowing and its variability widening minutes before the
first lapse) thus adds up to a finding, where a fixed threshold would wait for the lapses; one
odd window (a jolt, a long glance at a phone) does not. The finding's onset is where the sum
last left zero.
"""

from __future__ import annotations

from dalgu.safety.detectors.base import Finding, Quality
from dalgu.safety.detectors.drowsiness_features import DrowsinessFeatures
from dalgu.safety.detectors.drowsiness_model import DrowsinessModel, default_model
from dalgu.safety.history import History

CEILING = 3.0  # the sum is held below this many limits, so it falls soon after the episode


class DrowsinessDetector:
    name = "drowsiness"

    def __init__(self, model: DrowsinessModel | None = None) -> None:
        self.model = model or default_model()
        self.features = DrowsinessFeatures()
        self.cusum = 0.0
        self._since: float | None = None
        self.last_evidence: dict[str, float] = {}

    def step(self, history: History, quality: Quality) -> Finding | None:
        x = self.features.observe(history)
        if x is None:
            return None
        model = self.model
        log_odds = model.log_odds(x)
        self.cusum = min(max(0.0, self.cusum + log_odds - model.drift), CEILING * model.limit)
        self.last_evidence = {**x, "logOdds": log_odds, "cusum": self.cusum}
        if self.cusum <= 0.0:
            self._since = None
            return None
        if self._since is None:
            self._since = history.now
        if self.cusum < model.limit:
            return None
        margin = self.cusum / model.limit
        evidence = {k: round(v, 3) for k, v in self.last_evidence.items() if v != 0.0}
        return Finding(
            "drowsiness",
            "drowsy-driving",
            "high" if margin >= 2 else "medium",
            float(min(0.99, 0.6 + 0.15 * margin)),
            self._since,
            evidence,
            strength=log_odds,
        )
