"""`GET /health`: whether this server process can serve, for load balancers and orchestrators.

The body follows the IETF draft "Health Check Response Format for HTTP APIs"
(`application/health+json`): `status` is `pass`, `warn` or `fail`, and `checks` says why:

- `store:responseTime`: a point read of the store (SQLite file or PostgreSQL) within
  `STORE_TIMEOUT` seconds; a store that fails or does not answer is a `fail`, and the process
  answers 503 (a load balancer sends requests elsewhere; the API would answer them with 503s);
- `store:refused`: requests this process answered 503 for a store outage in the last
  `REFUSED_WINDOW` seconds; any is a `warn` (200) naming the latest reason: a full disk or a
  file made read-only fails every write while the point read above passes;
- `mqtt:connections`: the gateway's MQTT subscription, when MQTT is on; a broker that is down
  or an embedded broker that could not listen is a `warn` (200): the APIs, HTTP and CoAP
  devices still work, and the gateway reconnects by itself;
- `coap:listener`: the CoAP southbound, when it listens; a socket it stopped reading (seen by
  datagrams waiting unread) is a `warn` while it is started again, and for five minutes after;
- `mqtt:backlog`: the embedded broker's device messages not yet stored (their PUBACK waits);
  the oldest waiting past `notifier_lag_warning` is a `warn` (ingestion is behind);
- `notifier:lag`: seconds since the oldest change no notifier has matched was recorded (0 when
  all are); past `notifier_lag_warning` (30 s) it is a `warn` (200): notifications are late
  because no notifier runs (stopped, failing, `DALGU_NOTIFIER=off` with none elsewhere) or it
  is behind. Only when the store has subscriptions.
- `feed:lag`: the same for the change feed (`change_feed = "nats"`): past the same bound it is
  a `warn`: changes wait because NATS is away or no notifier process (which relays them) runs.

A process still starting (its store not yet open) answers 503 with `status` `fail`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import outage
from dalgu.feed.relay import CONSUMER as FEED
from dalgu.gateway.service import MqttGateway
from dalgu.subscriptions import SubscriptionService
from dalgu.subscriptions.service import NOTIFIER

#: seconds the store's point read may take before the check fails
STORE_TIMEOUT = 2.0
#: seconds back `store:refused` counts requests answered 503 for a store outage
REFUSED_WINDOW = 60.0
MEDIA_TYPE = "application/health+json"


async def health(request: Request) -> Response:
    runtime = getattr(request.app.state, "dalgu", None)
    if runtime is None:
        return _answer({"status": "fail", "output": "starting: the store is not open yet"})
    checks: dict[str, list[dict[str, Any]]] = {"store:responseTime": [await _store(runtime)]}
    refused, reason = outage.OUTAGES.lately(REFUSED_WINDOW)
    checks["store:refused"] = [_refused(refused, reason)]
    warning = runtime.settings.notifier_lag_warning
    if runtime.subscriptions is not None:
        checks["notifier:lag"] = [await _lag(runtime.subscriptions, warning, NOTIFIER)]
        if runtime.settings.change_feed != "off":
            checks["feed:lag"] = [await _lag(runtime.subscriptions, warning, FEED)]
    gateway = getattr(request.app.state, "dalgu_gateway", None)
    if isinstance(gateway, MqttGateway) and (gateway.southbound or gateway.problems):
        checks["mqtt:connections"] = [_mqtt(gateway)]
    if isinstance(gateway, MqttGateway) and gateway.broker is not None:
        checks["mqtt:backlog"] = [backlog_check(*gateway.broker.backlog(), warning)]
    coap = getattr(getattr(request.app.state, "dalgu_listeners", None), "coap", None)
    if coap is not None:
        checks["coap:listener"] = [coap.health()]
    statuses = {check["status"] for entries in checks.values() for check in entries}
    status = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    return _answer({"status": status, "checks": checks})


def _refused(refused: int, reason: str | None) -> dict[str, Any]:
    """Requests this process answered 503 for a store outage lately: a `warn` while there are
    (a point read passes while every write fails on a full disk or a read-only file)."""
    check: dict[str, Any] = {"observedValue": refused, "observedUnit": "requests"}
    if not refused:
        return {"status": "pass", **check}
    output = f"{refused} requests answered 503 in the last {REFUSED_WINDOW:g} s: {reason}"
    return {"status": "warn", **check, "output": output[:300]}


async def _store(runtime: Any) -> dict[str, Any]:
    began = time.perf_counter()
    try:
        await asyncio.wait_for(runtime.service.probe_store(), STORE_TIMEOUT)
    except TimeoutError:
        return {"status": "fail", "output": f"no answer within {STORE_TIMEOUT:g} s"}
    except Exception as exc:  # whatever the store's failure, the check reports it
        return {"status": "fail", "output": f"{type(exc).__name__}: {exc}"[:300]}
    elapsed = (time.perf_counter() - began) * 1000
    return {"status": "pass", "observedValue": round(elapsed, 3), "observedUnit": "ms"}


async def _lag(subscriptions: SubscriptionService, warning: float, reader: str) -> dict[str, Any]:
    try:
        lag = await asyncio.wait_for(subscriptions.notification_lag(reader), STORE_TIMEOUT)
    except Exception as exc:  # the store's own check says why it fails
        return {"status": "warn", "output": f"not known: {type(exc).__name__}: {exc}"[:300]}
    check: dict[str, Any] = {"status": "pass", "observedValue": round(lag, 3), "observedUnit": "s"}
    if lag > warning:
        check["status"] = "warn"
        check["output"] = (
            f"the oldest change not yet matched against the subscriptions is {lag:.0f} s old: "
            "is a notifier running?"
            if reader == NOTIFIER
            else f"the oldest change not yet in the change feed is {lag:.0f} s old: is NATS "
            "reachable, and a notifier process running?"
        )
    return check


def backlog_check(waiting: int, oldest: float, warning: float) -> dict[str, Any]:
    """`mqtt:backlog`: the devices' QoS 1 messages the embedded broker holds until the gateway
    has stored them (their PUBACK waits); past `warning` seconds for the oldest, a `warn`:
    ingestion has fallen behind what the devices send (an outside soak test saw it grow for
    minutes, with every other check passing)."""
    check: dict[str, Any] = {"status": "pass", "observedValue": waiting, "observedUnit": "messages"}
    if waiting and oldest > warning:
        check["status"] = "warn"
        check["output"] = (
            f"{waiting} device messages wait to be stored, the oldest for {oldest:.0f} s: "
            "ingestion is behind what the devices send (the machine is busy, or a broker "
            "of its own, Mosquitto, would take the load)"
        )
    return check


def _mqtt(gateway: MqttGateway) -> dict[str, Any]:
    if gateway.problems:
        return {"status": "warn", "output": "; ".join(gateway.problems)}
    assert gateway.southbound is not None
    if gateway.southbound.ready.is_set():
        return {"status": "pass", "observedValue": 1}
    southbound = gateway.southbound
    return {
        "status": "warn",
        "observedValue": 0,
        "output": f"not connected to the MQTT broker {southbound.host}:{southbound.port}",
    }


def _answer(body: dict[str, Any]) -> Response:
    code = 503 if body["status"] == "fail" else 200
    return Response(orjson.dumps(body), status_code=code, media_type=MEDIA_TYPE)
