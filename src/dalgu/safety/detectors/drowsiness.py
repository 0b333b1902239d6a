"""Drowsiness: the driver's own signals (`drowsiness_features`) weighed by a logistic model learnt
on the tuning drives (`drowsiness_model`), and a sequential test on its log-odds.

A CUSUM adds up, evaluation after evaluation, how far the log-odds stand above the model's
`drift`, never going below zero; the finding comes when the sum reaches the model's `limit`.
Weak but steady evidence (the heart slowing and its variability widening minutes before the
first lapse) thus adds up to a finding, where a fixed threshold would wait for the lapses; one
odd window (a jolt, a long glance at a phone) does not. The finding's onset is where the sum
last left zero.

Until the drive's own awake reference is learnt (its first `CALIBRATION` seconds) the features
are read against the driver's stored one when there is one (`adopt_profile`): a driver who sets
off tired is then read from the first minutes, as Fujiwara et al. read each driver against a
model of that driver's awake data. A drive found drowsy in those minutes goes on being read
against the stored reference, not against its own drowsy start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dalgu.safety.detectors.base import CALIBRATION, Finding, Quality
from dalgu.safety.detectors.drowsiness_features import AwakeReference, DrowsinessFeatures
from dalgu.safety.detectors.drowsiness_model import DrowsinessModel, default_model
from dalgu.safety.history import History

CEILING = 3.0  # the sum is held below this many limits, so it falls soon after the episode
# the limit, in limits, while the drive is read against the driver's stored reference: a
# reference from another day is less sure than the drive's own minutes (a slower heart than
# that day's, a road with more lane warnings); on the tuning drives 1000-1079 it left one of
# the three false findings the stored reference had added in the first minutes, and moved
# the p50 latency of the tired drives 1000-1039 by less than a second
STORED_LIMIT = 1.5


class DrowsinessDetector:
    name = "drowsiness"

    def __init__(self, model: DrowsinessModel | None = None) -> None:
        self.model = model or default_model()
        self.features = DrowsinessFeatures()
        self.cusum = 0.0
        self._since: float | None = None
        self.last_evidence: dict[str, float] = {}

    def adopt_profile(self, profile: Mapping[str, Any]) -> None:
        """The driver's stored awake reference (`awake_profile` of an earlier drive); a
        malformed one raises ValueError and changes nothing."""
        self.features.adopt(AwakeReference.from_json(profile))

    def awake_profile(self) -> dict[str, Any] | None:
        """The awake reference this drive learnt (JSON); called once its first minutes are over."""
        own = self.features.kept()
        return None if own.empty else own.to_json()

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
        limit = model.limit * (STORED_LIMIT if self.features.stored else 1.0)
        if self.cusum < limit:
            return None
        if self.features.stored and history.now - history.start <= CALIBRATION:
            self.features.keep_stored = True
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
