"""The FIWARE IoT Agent provisioning model: config (service) groups and devices.

Field names are the IoT Agent library's (`/iot/services`, `/iot/groups`, `/iot/devices`), so
existing provisioning scripts and device configurations work unchanged. Validation uses
pydantic (off the hot path: provisioning is rare, measures are not); unknown fields are
rejected with a clear message rather than silently dropped.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dalgu.devices.expressions import LANGUAGE, parse_expression
from dalgu.errors import BadRequestData

CommandMode = Literal["legacy", "notification", "advancedNotification"]
Transport = Literal["MQTT", "HTTP", "AMQP", "COAP"]
# the IoT Agents' names of a body they refuse (`lib/errors.js`), given with the refusal
WRONG_SYNTAX = "WRONG_SYNTAX"
MISSING_ATTRIBUTES = "MISSING_ATTRIBUTES"


def _upper_case(value: Any) -> Any:
    """A transport in any case (`http`, as the agents' own tests write it), kept upper-case."""
    return value.upper() if isinstance(value, str) else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


M = TypeVar("M", bound=_Model)


# names an entity's attribute cannot take: the entity's own members (NGSI-LD 4.8: `id`,
# `type`, `createdAt`, `modifiedAt`, `deletedAt`) and an attribute's (`observedAt`), and
# JSON-LD keywords (`@context`, any `@…`)
RESERVED_NAMES = ("id", "type", "createdAt", "modifiedAt", "deletedAt", "observedAt")


def attribute_name(value: str) -> str:
    """`value` as an attribute's name, or a ValueError saying why it cannot be one."""
    if not value or value in RESERVED_NAMES or value.startswith("@"):
        raise ValueError(
            f"an attribute name must not be empty, {', '.join(map(repr, RESERVED_NAMES))} "
            f"or a JSON-LD keyword (@…), not {value!r}"
        )
    return value


class AttributeMapping(_Model):
    """How one device measure becomes an entity attribute (active, lazy or command)."""

    object_id: str | None = None  # the measure's name as the device sends it
    name: str  # the attribute's name on the entity
    type: str = "Property"  # NGSI-v2 style (Number, Text, geo:point…) or NGSI-LD kinds
    metadata: dict[str, Any] | None = None  # sub-attributes, e.g. {"unitCode": {...}}
    expression: str | None = None
    skipValue: Any = None  # field names are the IoT Agent library's
    entity_name: str | None = None
    entity_type: str | None = None
    reverse: list[dict[str, Any]] | None = None
    # commands: the agent's schema takes a `value` (ignored), and how the command is sent
    value: Any = None
    payloadType: str | None = None
    contentType: str | None = None
    mqtt: dict[str, Any] | None = None  # e.g. {"qos": 1, "retain": false}

    @model_validator(mode="before")
    @classmethod
    def _name_of_object_id(cls, data: Any) -> Any:
        """A mapping without `name` names its attribute as its measure (`object_id`), as the
        IoT Agents' schema allows it (`testCases.js` 0550)."""
        if isinstance(data, dict) and data.get("name") is None and data.get("object_id"):
            return {**data, "name": data["object_id"]}
        return data

    @field_validator("name")
    @classmethod
    def _real_name(cls, value: str) -> str:
        return attribute_name(value)

    @property
    def measure(self) -> str:
        return self.object_id or self.name


DEVICE_ID_RULE = "a device_id is a non-empty string without '/', '#', '+' or a control character"


def is_device_id(value: str) -> bool:
    """Whether `value` can be a device id (it is a segment of MQTT topics and of entity ids,
    which hold no control character)."""
    return (
        bool(value)
        and "/" not in value
        and "#" not in value
        and "+" not in value
        and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    )


class StaticAttribute(_Model):
    name: str
    type: str = "Property"
    value: Any = None
    metadata: dict[str, Any] | None = None
    # the agents' NGSI-LD linked-data member (`{"attributes", "name", "type"}`): kept, not
    # acted on (Dalgu writes no parallel linked entity)
    link: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _real_name(cls, value: str) -> str:
        return attribute_name(value)


class ServiceGroup(_Model):
    """A config group: devices sharing an API key (and resource) and a template."""

    apikey: str
    resource: str = ""
    entity_type: str | None = None  # also `type` (`group_fields`)
    service: str | None = None
    subservice: str | None = None
    description: str | None = None
    trust: str | None = None
    token: str | None = None  # the older name of `trust`
    # where the agent would send the entities; Dalgu is that broker, so both are kept as given
    # and not used: `cbroker` in the agent's schema and the FIWARE tutorials, `cbHost` in its
    # documentation
    cbroker: str | None = None
    cbHost: str | None = None
    timezone: str | None = None
    timestamp: bool | None = None
    endpoint: str | None = None
    protocol: str | None = None
    transport: Transport | None = None
    lazy: list[AttributeMapping] = Field(default_factory=list)
    commands: list[AttributeMapping] = Field(default_factory=list)
    attributes: list[AttributeMapping] = Field(default_factory=list)
    static_attributes: list[StaticAttribute] = Field(default_factory=list)
    internal_attributes: Any = None  # free format, kept for the agent that reads it
    explicitAttrs: bool | str | list[str] = False
    entityNameExp: str | None = None
    ngsiVersion: str | None = None
    defaultEntityNameConjunction: str = ":"
    autoprovision: bool = True
    payloadType: str | None = None
    expressionLanguage: str | None = None
    # fields of the IoT Agent library's datamodel, kept as given: Dalgu keeps no last measure
    # (its entity and history hold it), writes in process (no broker to flow-control) and
    # sends commands as its entities change, whatever the mode
    storeLastMeasure: bool | None = None
    useCBflowControl: bool | None = None
    cmdMode: CommandMode | None = None

    _transport = field_validator("transport", mode="before")(_upper_case)

    @field_validator("apikey")
    @classmethod
    def _apikey(cls, value: str) -> str:
        if not value or "/" in value or "#" in value or "+" in value:
            raise ValueError("an apikey is a non-empty string without '/', '#' or '+'")
        return value


class Device(_Model):
    """A provisioned device: which entity its measures update, and how."""

    device_id: str
    service: str | None = None
    service_path: str | None = None
    entity_name: str | None = None
    entity_type: str | None = None
    apikey: str | None = None
    timezone: str | None = None
    timestamp: bool | None = None
    endpoint: str | None = None
    protocol: str | None = None
    transport: Transport | None = None
    polling: bool | None = None
    lazy: list[AttributeMapping] = Field(default_factory=list)
    commands: list[AttributeMapping] = Field(default_factory=list)
    attributes: list[AttributeMapping] = Field(default_factory=list)
    static_attributes: list[StaticAttribute] = Field(default_factory=list)
    internal_attributes: Any = None  # free format (LoRaWAN agents keep an object there)
    explicitAttrs: bool | str | list[str] | None = None
    ngsiVersion: str | None = None
    payloadType: str | None = None
    storeLastMeasure: bool | None = None  # kept as given, as for config groups
    lastMeasure: dict[str, Any] | None = None
    useCBflowControl: bool | None = None
    cmdMode: CommandMode | None = None

    _transport = field_validator("transport", mode="before")(_upper_case)

    @field_validator("device_id")
    @classmethod
    def _device_id(cls, value: str) -> str:
        if not is_device_id(value):
            raise ValueError(DEVICE_ID_RULE)
        return value


def parse_groups(body: Any) -> list[ServiceGroup]:
    """`{"services": [...]}` (or `{"groups": [...]}`) as an IoT Agent accepts it."""
    items = _list_member(body, ("services", "groups"))
    for i, item in enumerate(items):
        _check_expressions(item, f"services[{i}]")
    return [
        _validated(ServiceGroup, group_fields(item), f"services[{i}]")
        for i, item in enumerate(items)
    ]


def _check_expressions(item: Any, where: str) -> None:
    """Parse, by name, the fields whose value is a JEXL expression (`entityNameExp`, an
    `explicitAttrs` string, an attribute's or its metadata's `expression`): one that does not
    parse is refused with its field and position, rather than failing with every message.
    Expressions are not evaluated on commands, lazy or static attributes: refused by name."""
    if not isinstance(item, dict):
        return
    expressions: list[tuple[str, Any]] = [
        (f"{where}.entityNameExp", item.get("entityNameExp")),
    ]
    if isinstance(item.get("explicitAttrs"), str):
        expressions.append((f"{where}.explicitAttrs", item["explicitAttrs"]))
    _check_one_attribute_per_measure(item, where)
    for kind in ("attributes", "lazy", "commands", "static_attributes"):
        mappings = item.get(kind)
        for n, mapping in enumerate(mappings if isinstance(mappings, list) else []):
            if not isinstance(mapping, dict):
                continue
            field = f"{where}.{kind}[{n}]"
            _check_other_entity(mapping, kind, field)
            if _given(mapping.get("expression")) and kind != "attributes":
                raise BadRequestData(
                    f"{field}.expression: Dalgu evaluates JEXL expressions of active "
                    f"attributes only, not of {kind.replace('_', ' ')}; it is refused rather "
                    "than ignored"
                )
            expressions.append((f"{field}.expression", mapping.get("expression")))
            metadata = mapping.get("metadata")
            for key, member in (metadata if isinstance(metadata, dict) else {}).items():
                if isinstance(member, dict) and _given(member.get("expression")):
                    if kind != "attributes":
                        raise BadRequestData(
                            f"{field}.metadata.{key}.expression: Dalgu evaluates JEXL "
                            "expressions of active attributes only; it is refused rather "
                            "than ignored"
                        )
                    expressions.append((f"{field}.metadata.{key}.expression", member["expression"]))
    for field, text in expressions:
        if not _given(text):
            continue
        if not isinstance(text, str):
            raise BadRequestData(f"{field}: a JEXL expression is a string")
        try:
            parse_expression(text)
        except BadRequestData as error:
            reason = error.detail.removeprefix(f"{LANGUAGE}: ")
            raise BadRequestData(f"{field} is not a valid JEXL expression: {reason}") from None


def _check_one_attribute_per_measure(item: dict[str, Any], where: str) -> None:
    """Two active attributes of the device's own entity mapping one measure (`object_id`) are
    refused, naming both: Dalgu maps a measure to one attribute, and would feed the last one
    only (the agents feed both)."""
    mappings = item.get("attributes")
    seen: dict[str, int] = {}
    for n, mapping in enumerate(mappings if isinstance(mappings, list) else []):
        if not isinstance(mapping, dict) or mapping.get("entity_name") not in (None, ""):
            continue
        measure = mapping.get("object_id") or mapping.get("name")
        if not isinstance(measure, str):
            continue
        if measure in seen:
            raise BadRequestData(
                f"{where}.attributes[{n}].object_id: measure {measure!r} is mapped already by "
                f"{where}.attributes[{seen[measure]}]; a measure feeds one attribute (compute "
                "a second one from it with an expression)"
            )
        seen[measure] = n


def _check_other_entity(mapping: dict[str, Any], kind: str, field: str) -> None:
    """Multi-entity (`entity_name`, `entity_type` on a mapping) is for active attributes;
    elsewhere it is refused by name rather than ignored (the attribute would be placed on the
    device's own entity)."""
    named = mapping.get("entity_name") not in (None, "")
    typed = mapping.get("entity_type") not in (None, "")
    if (named or typed) and kind != "attributes":
        member = "entity_name" if named else "entity_type"
        raise BadRequestData(
            f"{field}.{member}: Dalgu writes active attributes to other entities, not "
            f"{kind.replace('_', ' ')}; it is refused rather than ignored"
        )
    if typed and not named:
        raise BadRequestData(
            f"{field}.entity_type names the type of another entity: give its entity_name too"
        )


def _given(text: Any) -> bool:
    """Whether an expression field holds one: null and a blank string are none, as the
    agents skip an empty expression."""
    return text is not None and not (isinstance(text, str) and not text.strip())


def group_fields(item: Any) -> Any:
    """A config group's fields with `type` read as `entity_type`, as the IoT Agent's own
    documentation writes it in its examples."""
    if isinstance(item, dict) and "type" in item and "entity_type" not in item:
        return {("entity_type" if k == "type" else k): v for k, v in item.items()}
    return item


def parse_devices(body: Any) -> list[Device]:
    items = _list_member(body, ("devices",))
    for i, item in enumerate(items):
        _check_expressions(item, f"devices[{i}]")
    return [_validated(Device, item, f"devices[{i}]") for i, item in enumerate(items)]


def _list_member(body: Any, names: tuple[str, ...]) -> list[Any]:
    if isinstance(body, dict):
        for name in names:
            if isinstance(body.get(name), list) and body[name]:
                return list(body[name])
    raise BadRequestData(
        f"the body must be an object with a non-empty '{names[0]}' array", name=WRONG_SYNTAX
    )


def _validated(model: type[M], item: Any, where: str) -> M:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        # list positions in brackets, as the other messages write them (`attributes[1].name`)
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        name = MISSING_ATTRIBUTES if first["type"] == "missing" else WRONG_SYNTAX
        raise BadRequestData(f"{where}{path}: {first['msg']}", name=name) from None
