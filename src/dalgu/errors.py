"""One exception hierarchy for Dalgu.

Services raise these; only the edges translate them (HTTP → RFC 9457 ProblemDetails with the
NGSI-LD error type URIs of ETSI GS CIM 009 clause 5.5.2, FHIR → OperationOutcome, gateway →
error topic or log line).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

NGSI_LD_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


def quoted(text: str, limit: int = 80) -> str:
    """`text` as an error message quotes it: its first `limit` characters (and `…` when there
    were more), in Python's quotes."""
    return repr(text if len(text) <= limit else f"{text[:limit]}…")


class DalguError(Exception):
    """Base of every error Dalgu raises on purpose."""

    kind: str = "InternalError"
    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    @property
    def type_uri(self) -> str:
        return NGSI_LD_ERRORS + self.kind


class InvalidRequest(DalguError):
    """The request is syntactically wrong: not JSON, wrong shape, bad query parameter."""

    kind = "InvalidRequest"
    status = 400
    title = "Invalid request"


class BadRequestData(DalguError):
    """The request is well formed but its content is not acceptable."""

    kind = "BadRequestData"
    status = 400
    title = "Bad request data"


class PayloadError(BadRequestData):
    """A device payload (UltraLight, JSON, …) that cannot be parsed or typed.

    `position` is the 0-based character offset where it goes wrong. The HTTP southbound
    answers 400; MQTT reports it on the device's error topic and in the log.
    """

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(f"{message} (at character {position})", position=position)
        self.position = position


class ResourceNotFound(DalguError):
    kind = "ResourceNotFound"
    status = 404
    title = "Resource not found"


class UnknownApiKey(ResourceNotFound):
    """No config group or device of this deployment has the API key. On a broker shared with
    other deployments (or IoT Agents) the key may be theirs: the MQTT southbound logs and
    counts it but answers nothing on the device's error topic."""


class WrongResource(ResourceNotFound):
    """A provisioned device's message came to a resource (`/iot/json`) that none of its
    config groups serves (`/iot/d`): refused, as the IoT Agent of that resource would."""


class AlreadyExists(DalguError):
    kind = "AlreadyExists"
    status = 409
    title = "Already exists"


class OperationNotSupported(DalguError):
    kind = "OperationNotSupported"
    status = 422
    title = "Operation not supported"


class TooManyResults(DalguError):
    kind = "TooManyResults"
    status = 403
    title = "Too many results"


class QuotaExceeded(DalguError):
    """A sandbox's quota (messages per second, devices) would be exceeded. Not an NGSI-LD
    error type: its URI is Dalgu's own."""

    kind = "QuotaExceeded"
    status = 429
    title = "Quota exceeded"

    @property
    def type_uri(self) -> str:
        return "urn:dalgu:errors:QuotaExceeded"


class Unauthorized(DalguError):
    """A device's API key is not (or no longer) accepted, e.g. a sandbox key that was revoked.
    Not an NGSI-LD error type: its URI is Dalgu's own."""

    kind = "Unauthorized"
    status = 401
    title = "Unauthorized"

    @property
    def type_uri(self) -> str:
        return "urn:dalgu:errors:Unauthorized"


class TooComplexQuery(DalguError):
    """A query the broker declines to serve whole, e.g. a joinLevel past its limit."""

    kind = "TooComplexQuery"
    status = 403
    title = "Too complex query"


class LdContextNotAvailable(DalguError):
    """A remote JSON-LD @context could not be retrieved (clause 5.5.2: 503)."""

    kind = "LdContextNotAvailable"
    status = 503
    title = "JSON-LD context not available"


class InvalidLdContext(DalguError):
    """A JSON-LD @context was retrieved (or given inline) but is not a valid context."""

    kind = "BadRequestData"
    status = 400
    title = "Invalid JSON-LD context"


class NotAcceptable(DalguError):
    kind = "NotAcceptable"
    status = 406
    title = "Not acceptable"


class UnsupportedMediaType(DalguError):
    kind = "UnsupportedMediaType"
    status = 415
    title = "Unsupported media type"


class PayloadTooLarge(DalguError):
    kind = "PayloadTooLarge"
    status = 413
    title = "Payload too large"


class MethodNotAllowed(DalguError):
    kind = "MethodNotAllowed"
    status = 405
    title = "Method not allowed"


class Conflict(DalguError):
    """A write lost a race it cannot resolve on its own (retry the request)."""

    kind = "Conflict"
    status = 409
    title = "Conflict"


class LoopDetected(DalguError):
    """A distributed request came back to this broker: its `Via` names it (clause 4.3.6.4).
    HTTP's 508 Loop Detected; NGSI-LD has no type of its own for it."""

    kind = "Conflict"
    status = 508
    title = "Loop detected"


#: the NGSI-LD error type of a context source's status, when it sent no ProblemDetails
_KIND_OF_STATUS = {
    400: "BadRequestData",
    404: "ResourceNotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "OperationNotSupported",
    501: "OperationNotSupported",
}


BLANK = "about:blank"
_PHRASES = {s.value: s.phrase for s in HTTPStatus}


class ContextSourceError(DalguError):
    """What a context source answered a forwarded request with, as it said it (clause
    4.3.6): its status and, when it sent a ProblemDetails, its type; without one, the
    NGSI-LD type its status stands for (a FIWARE IoT Agent's 404 `DEVICE_NOT_FOUND` was an
    InternalError with status 404)."""

    def __init__(self, detail: str, status: int, type_uri: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        kind = _KIND_OF_STATUS.get(status, "InternalError")
        self._type_uri = type_uri or NGSI_LD_ERRORS + kind
        # about:blank: the title is the status phrase (RFC 9457 section 4.2.1)
        self.title = "Context source error"
        if type_uri == BLANK and status in _PHRASES:
            self.title = _PHRASES[status]

    @property
    def type_uri(self) -> str:
        return self._type_uri


class BackupFailed(DalguError):
    """A copy of the store that could not be made or did not check out (`dalgu backup`);
    nothing is left at its path."""

    kind = "InternalError"
    status = 500
    title = "Backup failed"


class StoreUnavailable(DalguError):
    kind = "InternalError"
    status = 503
    title = "Store unavailable"


class SchemaAhead(StoreUnavailable):
    """The database was written by a newer Dalgu (its schema version is past the ones this
    Dalgu knows): an older one would serve it without keeping what the newer one keeps."""

    def __init__(self, database: str, found: int, known: int) -> None:
        super().__init__(
            f"the {database} database is at schema version {found}, ahead of the {known} this "
            "Dalgu knows: a newer Dalgu wrote it. Run that version (or newer), or restore the "
            "backup taken before the upgrade"
        )


class ServerUnreachable(DalguError):
    """A client command (`dalgu simulate`, `replay`, `testbed run`) could not reach Dalgu's
    provisioning API or one of its gateway ports: said in one line, not a traceback."""

    kind = "InternalError"
    status = 503
    title = "Server unreachable"


class FeedUnavailable(DalguError):
    """NATS could not be reached, or did not acknowledge the change feed's batch: nothing was
    lost, the batch is published again (the change feed's own; no request waits on it)."""

    kind = "InternalError"
    status = 503
    title = "Change feed unavailable"


# --- kinds the FHIR edge needs (OperationOutcome with these statuses); not NGSI-LD types ---


class _DalguOwn(DalguError):
    @property
    def type_uri(self) -> str:
        return f"urn:dalgu:errors:{self.kind}"


class NotAuthenticated(_DalguOwn):
    """The request names no principal the edge can resolve."""

    kind = "NotAuthenticated"
    status = 401
    title = "Not authenticated"


class AccessDenied(_DalguOwn):
    """The principal's role or the patient's consent does not allow the interaction."""

    kind = "AccessDenied"
    status = 403
    title = "Access denied"


class ResourceGone(_DalguOwn):
    """The resource existed and was deleted (FHIR read of a deleted resource: 410)."""

    kind = "ResourceGone"
    status = 410
    title = "Resource deleted"


class PreconditionFailed(_DalguOwn):
    """An `If-Match` version is not the current one (a lost update was prevented)."""

    kind = "PreconditionFailed"
    status = 412
    title = "Precondition failed"


class RequestTimeout(_DalguOwn):
    """The client did not send its request's body in the time a body is given (RFC 9110,
    15.5.9)."""

    kind = "RequestTimeout"
    status = 408
    title = "Request timeout"


class TooCostly(_DalguOwn):
    """A request the server refuses to run because it would cost too much: more search
    parameters or values than it takes, or a query that ran past its time (FHIR issue type
    `too-costly`)."""

    kind = "TooCostly"
    status = 400
    title = "Too costly"


class InvalidResource(_DalguOwn):
    """A resource that parses as JSON but is not valid content (FHIR: 422)."""

    kind = "InvalidResource"
    status = 422
    title = "Invalid resource"


class InvalidFields(BadRequestData):
    """Content refused field by field (an open-data dataset): `fields` maps each field to its
    problems, as CKAN's Validation Error does."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        message = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in fields.items())
        super().__init__(message)
        self.fields = fields
