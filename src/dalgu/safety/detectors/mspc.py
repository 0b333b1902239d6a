"""Multivariate statistical process control over HRV features, trained on one driver's awake data.

As in Fujiwara et al. (2019): the features are standardised with the awake windows' mean and
deviation, a PCA keeps the components that explain most of their variance, and a window's
Hotelling T² (inside the model) and Q (squared prediction error, outside it) are compared with
limits set on the awake windows themselves.
"""

from __future__ import annotations

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
