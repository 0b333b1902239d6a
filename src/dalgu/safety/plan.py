"""What happens in a generated drive: its road segments, events and confounders, in time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dalgu.safety.scenario import Event

MEDICAL_KINDS = (
    ("cardiac", "asystole"),
    ("cardiac", "bradycardia"),
    ("cardiac", "tachycardia"),
    ("cardiac", "arrhythmia"),
    ("hypoxaemia", "desaturation"),
    ("incapacitation", "loss-of-control"),
)
CALIBRATION = 600.0  # s of awake driving at the start: the drive's own baseline
EARLY = 60.0  # s: the `early` mix's emergencies begin between this and CALIBRATION
TIRED = (120.0, 480.0)  # s: the `tired` mix's drowsy episode begins between these

# Seeds come in blocks of BLOCK (1000-1019, 1020-1039, ...) whose drives are drawn together, so
# that every block, and so every tuning or held-out range of whole blocks, holds every kind of
# event: drawn one drive at a time, a range of 40 drives went without an arrhythmia (about one
# range in eight would). Per block: the mixes in the proportions below, the medical events of
# its medical drives covering every kind, and BAND_OFF_AT_ONSET of them with the wearable
# slipping off or loose around the onset (signal loss over an emergency, the hard case).
BLOCK = 20
BLOCK_MIXES = ("drowsy",) * 8 + ("medical",) * 7 + ("both",) * 2 + ("quiet",) * 3
BAND_OFF_AT_ONSET = 1


@dataclass(frozen=True, slots=True)
class BlockDraw:
    """What a seed's block decided for its drive."""

    mix: str
    medical: tuple[str, str] | None  # (type, subtype) when the drive has a medical event
    band_off_at_onset: bool


def block_draw(seed: int) -> BlockDraw:
    """The mix, the medical kind and the band-off flag of `seed`'s drive, drawn per block."""
    block, position = divmod(seed, BLOCK)
    rng = np.random.default_rng([block, 0x5AFE])
    mixes = [str(m) for m in rng.permutation(np.array(BLOCK_MIXES))]
    medical_drives = [i for i, m in enumerate(mixes) if m in ("medical", "both")]
    extra = rng.integers(len(MEDICAL_KINDS), size=len(medical_drives) - len(MEDICAL_KINDS))
    kinds = [*range(len(MEDICAL_KINDS)), *(int(k) for k in extra)]
    kinds = [kinds[int(i)] for i in rng.permutation(len(kinds))]
    band_off = {int(i) for i in rng.choice(medical_drives, BAND_OFF_AT_ONSET, replace=False)}
    medical = dict(zip(medical_drives, kinds, strict=True))
    return BlockDraw(
        mixes[position],
        MEDICAL_KINDS[medical[position]] if position in medical else None,
        position in band_off,
    )


@dataclass
class DrivePlan:
    duration: float
    events: list[Event] = field(default_factory=list)
    confounders: list[Event] = field(default_factory=list)

    def of(self, kind: str) -> list[Event]:
        return [e for e in (*self.events, *self.confounders) if e.type == kind]


def plan_drive(
    rng: np.random.Generator, duration: float, mix: str = "mixed", seed: int | None = None
) -> DrivePlan:
    """Events (at most one drowsy episode, then at most one medical emergency) and confounders.

    `mix` is `mixed` (drawn: by `seed`'s block when given, see `block_draw`), `drowsy`,
    `medical`, `quiet` (confounders only) or `early`: a medical emergency during the first
    `CALIBRATION` seconds, while the drive's own baseline is still being learnt (the kind by
    `seed`, every kind in turn; one drive in six with the wearable slipping off at the onset),
    or `tired`: a driver who sets off tired, a drowsy episode whose labelled onset falls in
    `TIRED` (its signs begin up to four minutes before, so the drive may start with them).
    """
    if mix == "early":
        return _early_drive(rng, duration, seed)
    if mix == "tired":
        return _tired_drive(rng, duration)
    draw = block_draw(seed) if seed is not None and mix == "mixed" else None
    if draw is not None:
        mix = draw.mix
    elif mix == "mixed":
        mix = str(rng.choice(["drowsy", "medical", "both", "quiet"], p=[0.4, 0.35, 0.1, 0.15]))
    plan = DrivePlan(duration)
    end_of_drive = duration
    if mix in ("medical", "both"):
        if draw is not None and draw.medical is not None:
            kind, subtype = draw.medical
        else:
            kind, subtype = MEDICAL_KINDS[int(rng.integers(len(MEDICAL_KINDS)))]
        earliest = CALIBRATION + 120 + (900.0 if mix == "both" else 0.0)
        onset = float(rng.uniform(earliest, max(earliest + 1, duration - 150)))
        end = onset + float(rng.uniform(60, 150))
        plan.events.append(Event(kind, onset, end, {"subtype": subtype}))
        end_of_drive = end  # the drive stops with the emergency
    if mix in ("drowsy", "both"):
        latest = end_of_drive - 420 if mix == "drowsy" else CALIBRATION + 400
        onset = float(rng.uniform(CALIBRATION + 240, max(CALIBRATION + 241, latest)))
        end = min(end_of_drive, onset + float(rng.uniform(360, 720)))
        if mix == "both":
            end = min(end, plan.events[0].onset - 300)
        plan.events.insert(0, Event("drowsiness", onset, end, {"lead": 240.0}))
    plan.duration = end_of_drive
    _confounders(rng, plan)
    if draw is not None and draw.band_off_at_onset:
        onset = next(e.onset for e in plan.events if e.category == "medical")
        slip = onset + float(rng.uniform(-10.0, 5.0))
        plan.confounders.append(
            Event("wearable-slip", slip, min(plan.duration, slip + float(rng.uniform(15, 45))))
        )
        plan.confounders.sort(key=lambda e: e.onset)
    return plan


def _early_drive(rng: np.random.Generator, duration: float, seed: int | None) -> DrivePlan:
    index = seed % len(MEDICAL_KINDS) if seed is not None else int(rng.integers(len(MEDICAL_KINDS)))
    kind, subtype = MEDICAL_KINDS[index]
    onset = float(rng.uniform(EARLY, CALIBRATION))
    end = min(duration, onset + float(rng.uniform(60, 150)))
    plan = DrivePlan(end, [Event(kind, onset, end, {"subtype": subtype})])
    _confounders(rng, plan)
    if rng.random() < 1 / 6:
        slip = onset + float(rng.uniform(-10.0, 5.0))
        plan.confounders.append(Event("wearable-slip", slip, min(end, slip + rng.uniform(15, 45))))
        plan.confounders.sort(key=lambda e: e.onset)
    return plan


def _tired_drive(rng: np.random.Generator, duration: float) -> DrivePlan:
    onset = float(rng.uniform(*TIRED))
    end = min(duration, onset + float(rng.uniform(360, 720)))
    plan = DrivePlan(duration, [Event("drowsiness", onset, end, {"lead": 240.0})])
    _confounders(rng, plan)
    return plan


def scheduled_drive(rng: np.random.Generator, duration: float, events: list[Event]) -> DrivePlan:
    """A drive whose events are given (a demonstration's schedule); confounders are drawn.

    As in a drawn plan, a medical emergency ends the drive. A drowsy episode may not begin in
    the first `CALIBRATION` seconds (the drive's awake baseline, from which drowsiness is
    read); a medical emergency may begin after the first `EARLY` seconds.
    """
    if any(e.onset < CALIBRATION for e in events if e.type == "drowsiness"):
        raise ValueError(f"drowsiness starts after the first {CALIBRATION:.0f} s (the baseline)")
    if any(e.onset < EARLY for e in events):
        raise ValueError(f"events start after the first {EARLY:.0f} s")
    plan = DrivePlan(duration, sorted(events, key=lambda e: e.onset))
    medical = [e for e in plan.events if e.type != "drowsiness"]
    if medical:
        plan.duration = min(duration, max(e.end for e in medical))
    _confounders(rng, plan)
    return plan


def _confounders(rng: np.random.Generator, plan: DrivePlan) -> None:
    d = plan.duration

    def add(kind: str, count: int, low: float, high: float, start: float = 0.0) -> None:
        for _ in range(count):
            onset = float(rng.uniform(start, max(start + 1, d - low)))
            end = min(d, onset + float(rng.uniform(low, high)))
            if end > onset:  # an `early` drive may end before `start`
                plan.confounders.append(Event(kind, onset, end))

    add("traffic", int(rng.integers(1, 3)), 180, 420)
    add("speed-bump", int(rng.integers(2, 7)), 1, 2)
    add("wearable-slip", int(rng.integers(0, 3)), 20, 180, start=CALIBRATION)
    add("wearable-dropout", int(rng.integers(0, 3)), 5, 60)
    add("telematics-gap", int(rng.integers(0, 4)), 4, 40)
    add("phone-call", int(rng.integers(0, 3)), 60, 300)
    plan.confounders.sort(key=lambda e: e.onset)
