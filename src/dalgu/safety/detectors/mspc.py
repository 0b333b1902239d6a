"""Multivariate statistical process control over HRV features, trained on one driver's awake data.

As in Fujiwara et al. (2019): the features are standardised with the awake windows' mean and
deviation, a PCA keeps the components that explain most of their variance, and a window's
Hotelling T² (inside the model) and Q (squared prediction error, outside it) are compared with
limits set on the awake windows themselves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


class HrvMspc:
    def __init__(self, explained: float = 0.9, percentile: float = 99.0, margin: float = 1.5):
        self.explained = explained
        self.percentile = percentile
        self.margin = margin
        self.mean: Array | None = None
        self.scale: Array | None = None
        self.loadings: Array | None = None
        self.variances: Array | None = None
        self.t2_limit = 1.0
        self.q_limit = 1.0

    @property
    def trained(self) -> bool:
        return self.loadings is not None

    def fit(self, windows: list[Array]) -> bool:
        """Learn from awake windows; False (and untrained) when there are too few."""
        if len(windows) < 12:
            return False
        x = np.vstack(windows)
        self.mean = x.mean(axis=0)
        self.scale = np.maximum(x.std(axis=0), 1e-3)
        z = (x - self.mean) / self.scale
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        variances = singular**2 / max(len(z) - 1, 1)
        share = np.cumsum(variances) / variances.sum()
        keep = int(np.searchsorted(share, self.explained) + 1)
        self.loadings = vt[:keep].T
        self.variances = np.maximum(variances[:keep], 1e-6)
        t2, q = self._statistics(z)
        self.t2_limit = float(np.percentile(t2, self.percentile)) * self.margin + 1e-6
        self.q_limit = float(np.percentile(q, self.percentile)) * self.margin + 1e-6
        return True

    def to_json(self) -> dict[str, Any] | None:
        """The trained model as JSON (None untrained): what a driver's stored baseline keeps."""
        if self.mean is None or self.scale is None:
            return None
        assert self.loadings is not None and self.variances is not None
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "loadings": self.loadings.tolist(),
            "variances": self.variances.tolist(),
            "t2Limit": self.t2_limit,
            "qLimit": self.q_limit,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], features: int) -> HrvMspc:
        """A model kept by `to_json`, over `features` features; ValueError when it is not one."""
        mean, scale = vector(doc.get("mean"), features), vector(doc.get("scale"), features)
        rows = doc.get("loadings")
        if (
            not isinstance(rows, list)
            or len(rows) != features
            or not isinstance(rows[0], list)
            or not 0 < len(rows[0]) <= features  # no more components than features
        ):
            raise ValueError("loadings are not a features × components matrix")
        loadings = np.vstack([vector(row, len(rows[0])) for row in rows])
        variances = vector(doc.get("variances"), loadings.shape[1])
        if (scale <= 0).any() or (variances <= 0).any():
            raise ValueError("scales and variances must be positive")
        model = cls()
        model.mean, model.scale, model.loadings, model.variances = mean, scale, loadings, variances
        model.t2_limit, model.q_limit = positive(doc.get("t2Limit")), positive(doc.get("qLimit"))
        return model

    def _statistics(self, z: Array) -> tuple[Array, Array]:
        assert self.loadings is not None and self.variances is not None
        scores = z @ self.loadings
        t2 = (scores**2 / self.variances).sum(axis=1)
        residual = z - scores @ self.loadings.T
        return t2, (residual**2).sum(axis=1)

    def score(self, features: Array) -> float:
        """max(T²/limit, Q/limit): above 1 is out of the driver's awake control region."""
        if self.mean is None or self.scale is None:
            return 0.0
        z = ((features - self.mean) / self.scale)[None, :]
        t2, q = self._statistics(z)
        return float(max(t2[0] / self.t2_limit, q[0] / self.q_limit))


def vector(value: object, length: int) -> Array:
    """`value` as a vector of `length` finite numbers; ValueError when it is not one."""
    if not isinstance(value, list) or len(value) != length:
        raise ValueError(f"expected a list of {length} numbers")
    if any(isinstance(x, bool) or not isinstance(x, int | float) for x in value):
        raise ValueError("expected numbers")
    vector = np.array(value, dtype=np.float64)
    if not np.isfinite(vector).all():
        raise ValueError("expected finite numbers")
    return vector


def positive(value: object) -> float:
    """`value` as a finite number above zero; ValueError when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    if not math.isfinite(value) or value <= 0:
        raise ValueError("expected a positive number")
    return float(value)
