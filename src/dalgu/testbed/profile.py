"""Device profiles: what a firm's device says it sends (a small YAML or JSON file).

    name: air-quality
    entity_type: AirQualityObserved
    payload: ul                 # ul (UltraLight 2.0) or json
    transport: mqtt             # mqtt, http or coap
    interval: 60                # seconds between messages of one device
    jitter: 0.2                 # tolerated share of the interval
    measures:
      - object_id: p10
        name: pm10
        type: Number
        unit: GQ                # UN/CEFACT common code (micrograms per cubic metre)
        min: 0
        max: 1000
        typical: 35             # where simulated values wander around
        spread: 12

A `ListProperty` measure is a JSON array of numbers (a `json` payload only), each within
`min`..`max`: e.g. the beat intervals a heart sensor measured since its last message; the
virtual device sends `items` of them (a list of 0 to `items` numbers around `typical`).

A `geo:point` measure is sent as `"lon,lat"` (longitude first, as the IoT Agents in NGSI-LD
mode read it).

A profile provisions a config group (`to_group`), drives virtual devices
(`dalgu.testbed.simulator`) and is what conformance runs check messages against. Shipped
profiles live in `dalgu/testbed/profiles/`; `load_profile` takes a shipped name or a path.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dalgu.errors import BadRequestData

MeasureType = Literal["Number", "Integer", "Boolean", "Text", "geo:point", "ListProperty"]


class MeasureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object_id: str
    name: str
    type: MeasureType = "Number"
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    typical: float | None = None
    spread: float | None = None
    values: list[str] | None = None  # the allowed values of a Text measure
    items: int = Field(2, ge=1, le=64)  # at most this many numbers in a ListProperty message
    required: bool = True

    @model_validator(mode="after")
    def _range(self) -> MeasureSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"measure {self.name}: min is above max")
        return self


class CommandSpec(BaseModel):
    """A command the device executes; conformance runs send it and time the answer."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")
    value: Any = ""  # what the run sends (UltraLight: `dev@name|value`)


class DeviceProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    description: str = ""
    entity_type: str
    payload: Literal["ul", "json"] = "ul"
    transport: Literal["mqtt", "http", "coap"] = "mqtt"
    interval: float = Field(60.0, gt=0, description="seconds between one device's messages")
    jitter: float = Field(0.2, ge=0, le=1, description="tolerated share of the interval")
    measures: list[MeasureSpec] = Field(min_length=1)
    commands: list[CommandSpec] = Field(default_factory=list)
    command_deadline: float = Field(
        5.0, gt=0, description="seconds a device has to answer a command"
    )

    @model_validator(mode="after")
    def _unique(self) -> DeviceProfile:
        ids = [m.object_id for m in self.measures]
        if len(set(ids)) != len(ids):
            raise ValueError("measure object_ids must be unique")
        listed = [m.name for m in self.measures if m.type == "ListProperty"]
        if listed and self.payload != "json":
            raise ValueError(f"measure {listed[0]}: a ListProperty needs the json payload")
        return self

    def to_group(self, apikey: str) -> dict[str, Any]:
        """The IoT Agent config group that maps this profile's measures to attributes."""
        attributes = []
        for m in self.measures:
            mapping: dict[str, Any] = {"object_id": m.object_id, "name": m.name, "type": m.type}
            if m.unit:
                mapping["metadata"] = {"unitCode": {"type": "Text", "value": m.unit}}
            attributes.append(mapping)
        group: dict[str, Any] = {
            "apikey": apikey,
            # the resource of its payload, as an IoT Agent's group: a key's group for the
            # other payload (or one of the firm's own for this one) is left alone
            "resource": "/iot/json" if self.payload == "json" else "/iot/d",
            "entity_type": self.entity_type,
            "protocol": "IoTA-JSON" if self.payload == "json" else "IoTA-UL",
            "transport": self.transport.upper(),
            "attributes": attributes,
        }
        if self.commands:
            group["commands"] = [{"name": c.name, "type": "command"} for c in self.commands]
        return group


def shipped_profiles() -> list[str]:
    folder = resources.files("dalgu.testbed").joinpath("profiles")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def shipped_profile(name: str) -> DeviceProfile:
    """A shipped profile by its name (`air-quality`); nothing else is read, so a name from a
    client never reaches the file system."""
    known = shipped_profiles()
    if name not in known:
        raise BadRequestData(f"no shipped profile of that name: one of {', '.join(known)}")
    folder = resources.files("dalgu.testbed").joinpath("profiles")
    return parse_profile(folder.joinpath(f"{name}.yaml").read_text())


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """A shipped profile by name (`air-quality`) or a YAML/JSON file (the command line's:
    the server takes no path, see `shipped_profile`)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml", ".json") and path.exists():
        return parse_profile(path.read_text())
    if str(name_or_path) not in shipped_profiles():
        known = ", ".join(shipped_profiles())
        raise BadRequestData(f"no profile {str(name_or_path)!r}: give a file or one of {known}")
    return shipped_profile(str(name_or_path))


def parse_profile(text: str | bytes) -> DeviceProfile:
    try:
        document = orjson.loads(text) if text.lstrip()[:1] in ("{", b"{") else yaml.safe_load(text)
    except (yaml.YAMLError, orjson.JSONDecodeError) as exc:
        raise BadRequestData(f"the profile is neither YAML nor JSON: {exc}") from None
    try:
        return DeviceProfile.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "profile"
        raise BadRequestData(f"{where}: {first['msg']}") from None
