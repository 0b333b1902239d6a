"""Who may do what on the embedded MQTT broker (amqtt plugins).

The IoT Agent topics carry the API key (`/<apikey>/<device_id>/attrs`), so a client that may
subscribe to `#` reads every tenant's measures, commands and keys, sandbox keys included. On
the embedded broker:

- Dalgu's own southbound connects with a user name and password made at start (never logged
  nor written anywhere) and may subscribe to everything;
- any other client connects as it likes (devices of a testbed have no credentials; the user
  name Dalgu's southbound uses is refused with any other password) but may not subscribe with
  a wildcard at or before the API key's level (`#`, `+/...`, `/+/#`, `/ul/+/...`) nor to a
  `$` topic (`$SYS`): it reaches only the topics of a key it knows;
- nor may another client publish on a device's command topic (`.../<device_id>/cmd`): commands
  come from Dalgu.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

#: the format prefixes of the IoT Agent topics, before the API key
FORMATS = frozenset({"ul", "json"})


@dataclass(frozen=True)
class BrokerCredentials:
    """The user name and password of Dalgu's own client of the embedded broker."""

    username: str
    password: str = field(repr=False)

    @classmethod
    def generate(cls) -> BrokerCredentials:
        return cls(f"dalgu-{secrets.token_hex(4)}", secrets.token_urlsafe(32))


def apikey_level(levels: list[str]) -> int:
    """The index of the API key among a topic's levels (split on `/`)."""
    start = 1 if levels and levels[0] == "" else 0
    if len(levels) > start + 1 and levels[start] in FORMATS:
        return start + 1
    return start


def may_subscribe(topic_filter: str) -> bool:
    """A client other than Dalgu's may subscribe to `topic_filter`: no `$` topic, and no
    wildcard at or before the API key's level."""
    if topic_filter.startswith("$"):
        return False
    levels = topic_filter.split("/")
    key = apikey_level(levels)
    if key >= len(levels):
        return False  # an empty filter
    return not any(level in ("+", "#") for level in levels[: key + 1])


def may_publish(topic: str) -> bool:
    """A client other than Dalgu's may publish on `topic`: not on a command topic."""
    levels = topic.split("/")
    return not (len(levels) == apikey_level(levels) + 3 and levels[-1] == "cmd")


class GatewayAuthentication(BaseAuthPlugin):  # type: ignore[misc]
    """Dalgu's user name only with Dalgu's password; any other client as it connects."""

    @dataclass
    class Config:
        username: str = ""
        password: str = field(default="", repr=False)

    async def authenticate(self, *, session: Any) -> bool:
        if not self.config.username or session.username != self.config.username:
            return True
        given = (session.password or "").encode()
        return hmac.compare_digest(given, self.config.password.encode())


class TopicAccess(BaseTopicPlugin):  # type: ignore[misc]
    """Subscriptions and publications of clients other than Dalgu's, as the module says."""

    @dataclass
    class Config:
        username: str = ""

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Any = None
    ) -> bool:
        own = self.config.username
        if own and session is not None and session.username == own:
            return True  # authenticated: GatewayAuthentication refused any other password
        if topic is None:
            return False
        if action == Action.SUBSCRIBE:
            return may_subscribe(topic)
        if action == Action.PUBLISH:
            return may_publish(topic)
        return True  # RECEIVE: what its subscriptions match
