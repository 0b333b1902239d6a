"""The drowsiness model: a logistic model over the driver-relative features, and the sequential
test (CUSUM) that turns its log-odds, evaluation after evaluation, into a finding.

Its numbers are data, not code: `drowsiness_model.json` beside this file was written by
`dalgu safety fit-drowsiness` (`dalgu/safety/training.py`) from the tuning seeds it names, and
nothing else.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from dalgu.errors import BadRequestData

MODEL_FILE = Path(__file__).with_name("drowsiness_model.json")


@dataclass(frozen=True)
class DrowsinessModel:
    """log-odds = bias + Σ weight·feature; CUSUM S = max(0, S + log-odds − drift) ≥ limit."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    drift: float
    limit: float
    fitted_on: str = ""  # the seeds, e.g. "1000-1159"
    tuning: dict[str, float] = field(default_factory=dict)  # its figures on those seeds

    def __post_init__(self) -> None:
        if len(self.features) != len(self.weights):
            raise BadRequestData("a drowsiness model needs one weight per feature")

    def log_odds(self, x: dict[str, float]) -> float:
        pairs = zip(self.features, self.weights, strict=True)
        return self.bias + math.fsum(w * x.get(f, 0.0) for f, w in pairs)

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc["features"], doc["weights"] = list(self.features), list(self.weights)
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> DrowsinessModel:
        try:
            doc: dict[str, Any] = orjson.loads(data)
            return cls(
                features=tuple(str(f) for f in doc["features"]),
                weights=tuple(float(w) for w in doc["weights"]),
                bias=float(doc["bias"]),
                drift=float(doc["drift"]),
                limit=float(doc["limit"]),
                fitted_on=str(doc.get("fitted_on", "")),
                tuning={str(k): float(v) for k, v in (doc.get("tuning") or {}).items()},
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise BadRequestData(f"not a drowsiness model ({error})") from None


@cache
def default_model() -> DrowsinessModel:
    """The committed model (read once per process; every vehicle shares it)."""
    return DrowsinessModel.from_json(MODEL_FILE.read_bytes())
