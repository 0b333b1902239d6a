"""The live safety service: follows vehicles from the gateway's measures and publishes alerts.

It is an observer of the device service's traffic (`DeviceTraffic.observers`), so it sees each
stored message in process, with the measures as the device sent them (VSS paths as object ids).
A telematics unit's device id names its vehicle; a wearable names it too, with `-wearable`
after it (or as `follow` registers). Each drive of a vehicle has a `VehicleMonitor`; the alerts
it raises are written as NGSI-LD `Alert` entities through the entity service, so subscriptions
deliver them to whoever asked (the driver's app, a fleet operator, an emergency desk).

A vehicle is known by its tenant and id: the tenant its devices' measures are stored in (that
of their config group or device). Its monitor, its driver, the roster and baselines read and
the alerts written are all that tenant's: two firms' vehicles of the same id never meet.

A drive ends when its vehicle has sent nothing for `DRIVE_GAP` seconds; the next message begins
another, with a monitor of its own. At a drive's start the service asks the `DriverRoster` who
drives (the Vehicle entity's `driver`), and reads that driver's stored awake baseline, so the
drive is read against the driver's own levels from its first second. A drive whose first ten
minutes raised no alert leaves its levels as the driver's new baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dalgu.background import cancel_and_wait
from dalgu.broker.model import now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.devices.traffic import MessageEvent
from dalgu.errors import AlreadyExists, BadRequestData, DalguError
from dalgu.ldcontext.termmap import TermMap
from dalgu.safety import signals as vss
from dalgu.safety.alert import Alert
from dalgu.safety.clocks import SourceClock
from dalgu.safety.detectors.awake import DriverBaseline
from dalgu.safety.detectors.base import CALIBRATION
from dalgu.safety.medical import Driver, MedicalSummarySource
from dalgu.safety.monitor import VehicleMonitor
from dalgu.safety.rates import rate_notes
from dalgu.safety.roster import DriverRoster
from dalgu.safety.scenario import Sample, Source
from dalgu.safety.telemetry_window import SAMPLES, window_samples

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WEARABLE_SUFFIX = "-wearable"
_WEARABLE = frozenset(vss.WEARABLE_SIGNALS)
DRIVE_GAP = 300.0  # s of silence from a vehicle (by its own clock) that end its drive
# s a sample's own time may be ahead of when the gateway received it: a message cannot be
# measured after it arrived, so a time further ahead is a clock fault (a GPS week glitch, a
# unit an hour fast). Read as it stood it would move the vehicle's drive into the future, and
# every later sample (the wearable's too) would be dropped as late: one glitch switched safety
# off for the car. Such a group is read at its receive time instead, and logged.
FUTURE_SKEW = 5.0
SKEW_LOG_EVERY = 60.0  # s between two log lines about the same device's clock
# A band's clock (often a phone's) is not the car's: 2 s slow, its samples were all dropped as
# late; 3 s fast, most of the car's were. Each source's lag (arrival minus sample time, a low
# percentile) is followed; when the band's differs from its car's by more than two agreeing
# clocks' do, the band is read shifted onto the car's time (`BAND_LAG` between them), and the
# shift is kept until, as read, the two disagree again (a loaded gateway's noise is no cause).
BAND_TRAILS = 1.2  # s the band's lag may exceed the car's uncorrected
BAND_LEADS = 0.6  # s the car's lag may exceed the band's uncorrected
BAND_LAG = 0.5  # s, the band's lag over the car's once corrected (as two agreeing clocks')
# s of correction from which it is logged as a clock fault: below, it is a loaded gateway's
# noise in the lags (a band under a second apart from its car is read either way)
CLOCK_FAULT = 1.5
CLOCK_STEADY = 30.0  # s a shift holds before it is logged (a delay that comes and goes is not)
# s: a band further off than this is not corrected (a lag that large is more likely a backlog
# or a store-and-forward relay than a clock); it is logged as a clock fault
MAX_CLOCK_CORRECTION = 120.0


VehicleKey = tuple[str, str]  # (tenant, vehicle id): a vehicle as the service knows it


@dataclass(frozen=True, slots=True)
class DriveStarted:
    vehicle: str
    monitor: VehicleMonitor
    tenant: str = ""


@dataclass(frozen=True, slots=True)
class DriveCalibrated:
    vehicle: str
    monitor: VehicleMonitor
    tenant: str = ""


@dataclass(frozen=True, slots=True)
class Raised:
    """An alert of a vehicle of `tenant`, to be written there."""

    alert: Alert
    tenant: str = ""

    @property
    def vehicle(self) -> str:
        return self.alert.vehicle


@dataclass(frozen=True, slots=True)
class Specified:
    """An open alert of a vehicle of `tenant`, told of a more specific finding of its episode:
    the entity written as `before` is updated to say what `after` says."""

    before: Alert
    after: Alert
    tenant: str = ""

    @property
    def vehicle(self) -> str:
        return self.after.vehicle


# what the update of an open alert rewrites; its dates, location, driver and summary stay
SPECIFIED_ATTRIBUTES = (
    "category",
    "subCategory",
    "severity",
    "description",
    "confidence",
    "alertType",
    "alertSubType",
    "evidence",
    "raisedAs",
)

Work = Raised | Specified | DriveStarted | DriveCalibrated


class SafetyService:
    def __init__(
        self,
        entities: EntityService,
        terms: TermMap,
        *,
        medical: MedicalSummarySource | None = None,
    ) -> None:
        self.entities = entities
        self.terms = terms
        self.medical = medical
        self.roster = DriverRoster(entities, terms)
        self.monitors: dict[VehicleKey, VehicleMonitor] = {}
        # registered by `follow`: the roster is not asked
        self.drivers: dict[VehicleKey, Driver] = {}
        self.driving: dict[VehicleKey, Driver] = {}  # the driver of each vehicle's current drive
        self.baselines_kept = 0
        self._devices: dict[tuple[str, str], tuple[str, Source]] = {}  # (tenant, device id)
        self._queue: asyncio.Queue[Work] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # (tenant, device) -> when its clock was last logged
        self._skew_logged: dict[tuple[str, str], float] = {}
        # each source's clock, and the shift the band's samples are read with (s, + later)
        self._clocks: dict[tuple[str, str, Source], SourceClock] = {}
        self._band_shift: dict[VehicleKey, float] = {}
        # since when each band's shift has held, and whether it was logged
        self._band_steady: dict[VehicleKey, tuple[float, bool]] = {}
        self.published: list[tuple[Alert, str, float]] = []  # (alert, entity id, written at)

    def follow(
        self,
        vehicle: str,
        *,
        tenant: str = "",
        telematics: str | None = None,
        wearable: str | None = None,
        driver: Driver | None = None,
    ) -> None:
        """Name the devices of a vehicle of `tenant` ("": the default) and its driver
        (otherwise the naming convention and the tenant's roster)."""
        self._devices[(tenant, telematics or vehicle)] = (vehicle, "vehicle")
        self._devices[(tenant, wearable or vehicle + WEARABLE_SUFFIX)] = (vehicle, "wearable")
        if driver is not None:
            self.drivers[(tenant, vehicle)] = driver

    def start(self) -> None:
        self._task = asyncio.create_task(self._work(), name="safety-alerts")
        # a mistyped DALGU_SAFETY would otherwise show only as alerts that never come
        log.info(
            "vehicle safety service on: following vehicles from the device gateway's "
            "measures; medical summaries %s",
            "from FHIR, with the patient's Consent" if self.medical is not None else "off",
        )

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    def observe(self, event: MessageEvent) -> None:
        """A device message was stored (or refused): feed its measures to the vehicle's monitor."""
        if event.error is not None:
            return
        tenant = event.tenant
        timed: list[tuple[tuple[str, Source], dict[str, Any], float]] = []
        for values, stamp in event.groups:
            source = self._source(tenant, event.device_id, values)
            if source is not None:
                timed.append((source, values, self._sample_time(event, stamp)))
        newest: dict[tuple[str, Source], float] = {}
        for source, _, t in timed:
            newest[source] = max(newest.get(source, t), t)
        for (vehicle, kind), t in newest.items():
            clock = self._clocks.setdefault((tenant, vehicle, kind), SourceClock())
            clock.heard(event.received, t)
            if kind == "wearable":
                self._follow_band_clock(event, (tenant, vehicle))
        for (vehicle, kind), values, t in timed:
            key = (tenant, vehicle)
            if kind == "wearable":
                t += self._band_shift.get(key, 0.0)
            try:
                window = window_samples(values, t)
            except BadRequestData as error:  # stored all the same: only the window is lost
                log.warning("telemetry window of %s unread: %s", event.device_id, error.detail)
                window = None
            first = window[0][0] if window else t
            monitor = self.monitors.get(key)
            if monitor is not None and first - monitor.newest > DRIVE_GAP:
                monitor = None  # silent for so long: that drive is over, this is another
            if monitor is None:
                driver = self.drivers.get(key)
                monitor = VehicleMonitor(vehicle, driver.id if driver else None, start=int(first))
                self.monitors[key] = monitor
                self._queue.put_nowait(DriveStarted(vehicle, monitor, tenant))
            calibrating = monitor.calibrated is None
            # a window's columns are named by VSS path and hold JSON values as sent, which
            # the history reads as they are: no renaming or conversion per sample
            samples = (
                [Sample(t, kind, vss.upgraded(kind, _signals(values)))]
                if window is None
                else [Sample(at, kind, vss.upgraded(kind, signals)) for at, signals in window]
            )
            dropped = [item for sample in samples for item in _beat_intervals(sample.signals)]
            if dropped:
                self._log_intervals(event, dropped)
            for sample in samples:
                for alert in monitor.feed(sample):
                    self._queue.put_nowait(Raised(alert, tenant))
                for before, after in monitor.updates:
                    self._queue.put_nowait(Specified(before, after, tenant))
                monitor.updates.clear()
            if not monitor.rates_checked and monitor.history.now >= monitor.history.start + 60:
                monitor.rates_checked = True
                history = monitor.history
                for note in rate_notes(history.car_rate, history.band_period):
                    log.warning("safety: vehicle %s: %s", _shown(key), note)
            if calibrating and monitor.calibrated is not None:
                self._queue.put_nowait(DriveCalibrated(vehicle, monitor, tenant))

    def _sample_time(self, event: MessageEvent, stamp: str | None) -> float:
        """A group's time as sent; its arrival when it has none, or one ahead of it."""
        t = _seconds(stamp) if stamp else event.received
        if t is None:
            self._log_once(
                event,
                "time",
                f"sent a sample stamped {stamp!r}, not an ISO 8601 time: read at its arrival time",
            )
            return event.received
        if t > event.received + FUTURE_SKEW:
            self._log_skew(event, stamp, t)
            return event.received
        return t

    def _follow_band_clock(self, event: MessageEvent, key: VehicleKey) -> None:
        """Set the shift the vehicle's band is read with, from its lag and its car's."""
        tenant, vehicle = key
        band = self._clocks[(tenant, vehicle, "wearable")]
        car = self._clocks.get((tenant, vehicle, "vehicle"))
        if car is None:
            return
        band_lag, car_lag = band.lag(), car.lag()
        if band_lag is None or car_lag is None or not band.paced() or not car.paced():
            return  # a backlog (a tunnel's), or a replay faster than real time: no clock
        apart = band_lag - car_lag  # s the band's samples are behind the car's
        before = self._band_shift.get(key, 0.0)
        if -BAND_LEADS <= apart - before <= BAND_TRAILS:
            self._log_steady_shift(event, key, before)
            return  # as read (shifted or not), the two agree: the noise of a loaded gateway
        shift = apart - BAND_LAG
        if abs(shift) > MAX_CLOCK_CORRECTION:
            self._log_once(
                event,
                "clock",
                f"stamps its samples {abs(shift):.0f} s {'behind' if shift > 0 else 'ahead of'} "
                f"its car's ({_shown(key)}), more than the {MAX_CLOCK_CORRECTION:.0f} s the "
                "safety service corrects: a clock fault; its samples are "
                + ("too late to be read" if shift > 0 else "read as sent"),
            )
            shift = 0.0
        self._band_shift[key] = shift
        logged = self._band_steady.get(key, (0.0, False))[1]
        if logged and abs(shift) < CLOCK_FAULT:
            log.warning("safety: %s: its clock agrees with its car's again", event.device_id)
            logged = False
        self._band_steady[key] = (event.received, logged and abs(shift - before) < 1.0)

    def _log_steady_shift(self, event: MessageEvent, key: VehicleKey, shift: float) -> None:
        """Log a band's shift of `CLOCK_FAULT` or more once it has held `CLOCK_STEADY` s: a
        clock off by seconds stays so; a delay that comes and goes (two connections of a loaded
        gateway) is not logged."""
        since, logged = self._band_steady.get(key, (event.received, False))
        if logged or abs(shift) < CLOCK_FAULT or event.received - since < CLOCK_STEADY:
            return
        self._band_steady[key] = (since, True)
        log.warning(
            "safety: %s stamps its samples about %.1f s %s its car's (%s), or its messages "
            "take that much %s: a clock fault or a slow relay; they are read %.1f s %s, on "
            "the car's time",
            event.device_id,
            abs(shift),
            "behind" if shift > 0 else "ahead of",
            _shown(key),
            "longer" if shift > 0 else "less",
            abs(shift),
            "later" if shift > 0 else "earlier",
        )

    def _log_intervals(self, event: MessageEvent, dropped: list[object]) -> None:
        self._log_once(
            event,
            "intervals",
            f"sent {len(dropped)} R-R interval items that are no beat interval "
            f"({', '.join(repr(x) for x in dropped[:5])}): dropped (a number of milliseconds, "
            f"for the band more than 0 and under {MAX_BEAT_INTERVAL:.0f}, is one)",
        )

    def _log_once(self, event: MessageEvent, kind: str, what: str) -> None:
        """A warning about a device's input, at most once every `SKEW_LOG_EVERY` per kind."""
        device = (event.tenant, f"{kind} {event.device_id}")
        last = self._skew_logged.get(device)
        if last is not None and event.received - last < SKEW_LOG_EVERY:
            return
        self._skew_logged[device] = event.received
        log.warning(
            "safety: %s %s (more of this device's are not logged for %.0f s)",
            event.device_id,
            what,
            SKEW_LOG_EVERY,
        )

    def _log_skew(self, event: MessageEvent, stamp: str | None, t: float) -> None:
        device = (event.tenant, event.device_id)
        last = self._skew_logged.get(device)
        if last is not None and event.received - last < SKEW_LOG_EVERY:
            return
        self._skew_logged[device] = event.received
        log.warning(
            "safety: %s sent a sample stamped %s, %.0f s ahead of its arrival: read at its "
            "arrival time (the gateway stored the time as sent; more of this device's clock "
            "faults are not logged for %.0f s)",
            event.device_id,
            stamp,
            t - event.received,
            SKEW_LOG_EVERY,
        )

    def _source(
        self, tenant: str, device: str, values: dict[str, Any]
    ) -> tuple[str, Source] | None:
        known = self._devices.get((tenant, device))
        if known is not None:
            return known
        if any(name in values for name in _WEARABLE):
            return device.removesuffix(WEARABLE_SUFFIX), "wearable"
        if vss.SPEED in values or vss.STEERING in values:
            return device, "vehicle"
        return None

    async def _work(self) -> None:
        """Alerts, drives begun and drives calibrated, in the order they happened: a drive's
        driver is known before its first alert is written."""
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, DriveStarted):
                    await self.identify(item.vehicle, item.monitor, item.tenant)
                elif isinstance(item, DriveCalibrated):
                    await self.keep_baseline(item.vehicle, item.monitor, item.tenant)
                elif isinstance(item, Specified):
                    await self.specify(item.before, item.after, item.tenant)
                else:
                    entity_id = await self.publish(item.alert, item.tenant)
                    self.published.append((item.alert, entity_id, time.time()))
            except DalguError as error:
                log.error(
                    "safety service: %s of %s failed: %s",
                    type(item).__name__,
                    _shown((item.tenant, item.vehicle)),
                    error.detail,
                )
            except Exception:  # one item's defect must not stop the alerts behind it
                log.exception(
                    "safety service: %s of %s failed",
                    type(item).__name__,
                    _shown((item.tenant, item.vehicle)),
                )

    async def identify(self, vehicle: str, monitor: VehicleMonitor, tenant: str = "") -> None:
        """Who drives this drive (registered, or the tenant's roster's answer), and their
        baseline in that tenant."""
        key = (tenant, vehicle)
        driver = self.drivers.get(key) or await self.roster.driver_of(tenant, vehicle)
        if driver is None:
            self.driving.pop(key, None)
            return
        self.driving[key] = driver
        monitor.driver = driver.id
        baseline = await self.roster.baseline(tenant, driver.id)
        if baseline is not None:
            monitor.adopt(baseline)

    async def keep_baseline(self, vehicle: str, monitor: VehicleMonitor, tenant: str = "") -> None:
        """A drive's first minutes raised no alert: its levels are the driver's baseline now."""
        calibration = monitor.calibrated
        if monitor.driver is None or calibration is None or calibration.empty:
            return
        start = monitor.history.start
        baseline = DriverBaseline.of(monitor.driver, calibration, start + CALIBRATION, vehicle)
        await self.roster.keep(tenant, baseline)
        self.baselines_kept += 1

    async def publish(self, alert: Alert, tenant: str = "") -> str:
        """Write the alert as an NGSI-LD entity of the vehicle's tenant (with a medical
        summary when due)."""
        key = (tenant, alert.vehicle)
        driver = self.drivers.get(key) or self.driving.get(key)
        if (
            alert.category == "medical"
            and self.medical is not None
            and driver is not None
            and driver.consent
            and driver.patient is not None
        ):
            summary = await self.medical.summary(driver.patient)
            if summary is not None:
                alert = alert.with_summary(summary)
        doc = alert.to_entity(
            EPOCH, f"urn:ngsi-ld:Vehicle:{alert.vehicle}", driver.id if driver else None
        )
        entity = parse_entity(doc, self.terms, now_iso())
        with contextlib.suppress(AlreadyExists):  # the same alert, replayed
            await self.entities.create(tenant, entity)
        return str(doc["id"])

    async def specify(self, before: Alert, after: Alert, tenant: str = "") -> None:
        """Update the written alert `before` to say what `after` says (its kind, evidence,
        severity), with `raisedAs` keeping what it was raised as: subscribers are notified."""
        vehicle = f"urn:ngsi-ld:Vehicle:{after.vehicle}"
        doc = after.to_entity(EPOCH, vehicle, None)
        fragment = {name: doc[name] for name in SPECIFIED_ATTRIBUTES if name in doc}
        attrs = parse_entity(fragment, self.terms, now_iso(), require_id=False, require_type=False)
        await self.entities.append_attributes(tenant, before.entity_id(EPOCH), attrs)


def _shown(key: VehicleKey) -> str:
    """A vehicle as log lines name it: its id, after its tenant unless the default."""
    tenant, vehicle = key
    return f"{tenant}/{vehicle}" if tenant else vehicle


INTERVAL_SIGNALS = (vss.RR_INTERVALS, vss.CABIN_RR_INTERVALS, vss.SEAT_RR_INTERVALS)
MAX_BEAT_INTERVAL = 60_000.0  # ms: a "beat interval" of a minute is no interval between beats


def _beat_interval(name: str, item: object) -> bool:
    """An item of an interval list is a number; the band's is a beat interval too (the
    cabin's sensors do send zeros on a rough road, which their quality gates read past)."""
    if isinstance(item, bool) or not isinstance(item, int | float):
        return False
    return name != vss.RR_INTERVALS or 0 < item < MAX_BEAT_INTERVAL


def _beat_intervals(signals: dict[str, Any]) -> list[object]:
    """Keep only the items of the interval lists that are beat intervals, as the gateway
    refuses a scalar that is no number: the items dropped (a string, a null, -5, 1e9)."""
    dropped: list[object] = []
    for name in INTERVAL_SIGNALS:
        value = signals.get(name)
        if isinstance(value, list) and not all(_beat_interval(name, x) for x in value):
            dropped += [x for x in value if not _beat_interval(name, x)]
            signals[name] = [float(x) for x in value if _beat_interval(name, x)]
    return dropped


def _seconds(stamp: str) -> float | None:
    """Epoch seconds of an ISO 8601 time; None when it is none."""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _signals(values: dict[str, Any]) -> dict[str, float | bool | list[float] | None]:
    out: dict[str, float | bool | list[float] | None] = {}
    for name, value in values.items():
        signal = vss.SIGNAL_OF_ATTRIBUTE.get(name, name)
        if isinstance(value, str):
            value = _typed(value)
        if value is None or isinstance(value, bool | int | float | list):
            out[signal] = (
                float(value) if isinstance(value, int) and not isinstance(value, bool) else value
            )
    return out


def _typed(text: str) -> float | bool | None:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return float(text)
    except ValueError:
        return None


def config_groups(
    vehicles: str, wearables: str, *, keep_windows: bool = False, keep_cabin: bool = False
) -> dict[str, Any]:
    """IoT Agent config groups for telematics units and wearables: the VSS path (or wearable
    signal) is the device's object_id, the NGSI-LD attribute its short name.

    Only the mapped signals are stored (`explicitAttrs`); the safety service reads every
    measure as the device sent it, stored or not. Read and dropped unless asked for:
    - a telemetry window's `samples` (`dalgu.safety.telemetry_window`): `keep_windows` maps
      them to a JSON property `telemetrySamples` (ten times the data);
    - the cabin's biometrics (`CABIN_BIOMETRICS`: the wheel ECG's intervals, the seat's rate,
      quality and intervals, the camera's SpO2): a driver's health data, kept out of the
      city's context broker by default (data minimisation), and ~35% of the store's work per
      vehicle-second; `keep_cabin` stores them as `Vehicle` attributes with their history.
      The wheel's heart rate and its quality are stored always."""

    def attributes(names: tuple[str, ...]) -> list[dict[str, str]]:
        kinds = {vss.LANE_WARNING: "Boolean", vss.EYES_ON_ROAD: "Boolean", vss.IS_WORN: "Boolean"}
        for listed in (vss.RR_INTERVALS, vss.CABIN_RR_INTERVALS, vss.SEAT_RR_INTERVALS):
            kinds[listed] = "ListProperty"
        return [
            {"object_id": n, "name": vss.ATTRIBUTE_NAMES[n], "type": kinds.get(n, "Number")}
            for n in names
        ]

    telemetry = attributes(
        tuple(s for s in vss.VEHICLE_SIGNALS if keep_cabin or s not in vss.CABIN_BIOMETRICS)
    )
    band = attributes(vss.WEARABLE_SIGNALS)
    # a wearable of the format before round 8 names its heart rate by the VSS path
    band.append(
        {"object_id": vss.LEGACY_WEARABLE_HEART_RATE, "name": "heartRate", "type": "Number"}
    )
    if keep_windows:
        telemetry.append({"object_id": SAMPLES, "name": "telemetrySamples", "type": "JsonProperty"})
    return {
        "services": [
            {
                "apikey": vehicles,
                "entity_type": "Vehicle",
                "attributes": telemetry,
                "explicitAttrs": True,
            },
            {
                "apikey": wearables,
                "entity_type": "Device",
                "attributes": band,
            },
        ]
    }
