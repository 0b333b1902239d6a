"""Features of heart rhythm and steering, over a window, as the drowsiness literature defines them.

- HRV: the eight features of Fujiwara et al. (IEEE TBME 2019): MeanNN, SDNN, RMSSD, NN50 (here
  pNN50, independent of the window's beat count), total power, LF, HF and LF/HF; the spectrum
  is a Lomb-Scargle periodogram (SciPy) of the unevenly spaced RR series.
- Steering: reversal rate (Markkula & Engström 2006: direction changes of at least a gap, per
  minute) and steering entropy (Nakayama et al. 1999: the spread of the errors of a second-order
  Taylor prediction of the wheel angle, binned by the driver's own awake 90th percentile).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lombscargle

Array = NDArray[np.float64]
LF = (0.04, 0.15)
HF = (0.15, 0.40)
_FREQS = np.linspace(0.01, 0.40, 80)
HRV_FEATURES = ("MeanNN", "SDNN", "RMSSD", "pNN50", "TP", "LF", "HF", "LFHF")


def clean_rr(rr: Array) -> Array:
    """Plausible intervals, without the ones that jump by more than a fifth (ectopic, missed)."""
    rr = rr[(rr > 300) & (rr < 2000)]
    if len(rr) < 3:
        return rr
    median = np.median(rr)
    return rr[np.abs(rr - median) < 0.3 * median]


def hrv_features(rr_ms: Array) -> Array | None:
    """The eight features (powers and spreads as logarithms); None with too few beats."""
    rr = clean_rr(rr_ms)
    if len(rr) < 60:
        return None
    diffs = np.diff(rr)
    times = np.cumsum(rr) / 1000.0
    centred = rr - rr.mean()
    power = lombscargle(times, centred, 2 * np.pi * _FREQS)
    df = _FREQS[1] - _FREQS[0]
    lf = float(power[(LF[0] <= _FREQS) & (LF[1] > _FREQS)].sum() * df) + 1e-6
    hf = float(power[(HF[0] <= _FREQS) & (HF[1] > _FREQS)].sum() * df) + 1e-6
    total = float(power.sum() * df) + 1e-6
    return np.array(
        [
            rr.mean(),
            np.log(rr.std() + 1e-6),
            np.log(np.sqrt(np.mean(diffs**2)) + 1e-6),
            np.mean(np.abs(diffs) > 50),
            np.log(total),
            np.log(lf),
            np.log(hf),
            np.log(lf / hf),
        ]
    )


def reversal_rate(angles: Array, gap: float, rate: float = 10.0) -> float:
    """Steering reversals of at least `gap` degrees per minute."""
    if len(angles) < 3:
        return 0.0
    reversals, direction = 0, 0
    extreme = float(angles[0])
    for value in angles[1:].tolist():
        if direction == 0:
            if abs(value - extreme) >= gap:
                direction = 1 if value > extreme else -1
                extreme = value
        elif direction * (value - extreme) > 0:
            extreme = value  # still turning the same way
        elif abs(value - extreme) >= gap:
            reversals += 1
            direction, extreme = -direction, value
    return reversals / (len(angles) / rate / 60.0)


def prediction_errors(angles: Array, step: int = 2) -> Array:
    """Errors of the second-order Taylor prediction of the wheel angle (every `step` samples)."""
    x = angles[::step]
    if len(x) < 4:
        return np.zeros(0)
    predicted = x[2:-1] + (x[2:-1] - x[1:-2]) + 0.5 * ((x[2:-1] - x[1:-2]) - (x[1:-2] - x[:-3]))
    return np.asarray(x[3:] - predicted, dtype=np.float64)


def steering_entropy(angles: Array, alpha: float) -> float:
    """Nakayama's steering entropy (base 9) with the driver's awake `alpha`."""
    errors = prediction_errors(angles)
    if len(errors) < 20 or alpha <= 0:
        return 0.0
    edges = np.array([-5, -2.5, -1, -0.5, 0.5, 1, 2.5, 5]) * alpha
    counts = np.bincount(np.searchsorted(edges, errors), minlength=9).astype(float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(9))
