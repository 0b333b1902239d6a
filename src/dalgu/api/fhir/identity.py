"""Who is calling: the FHIR edge resolves a `Principal` for each request with one function.

Until authentication lands, the default resolver reads development headers — a stand-in
that the authentication layer replaces by installing its own resolver (`Runtime.fhir_principal`
or `build_app`'s), which would read the identity the middleware put on the request scope:

    X-Dalgu-Role:            patient | clinician | emergency | researcher | device | admin
    X-Dalgu-Principal:       a reference: Patient/123, Practitioner/p1, Device/w1, ...
    X-Dalgu-Purpose-Of-Use:  BTG to break the glass (emergency role), HL7 v3-ActReason
    X-Dalgu-Purpose-Reason:  free text recorded with a break-glass access

A request without a role is answered 401.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from dalgu.errors import NotAuthenticated
from dalgu.fhir.model import Principal, Role
from dalgu.fhir.searchparams import split_reference

PrincipalResolver = Callable[[Request], Principal]
ROLES = ", ".join(r.value for r in Role)


def header_principal(request: Request) -> Principal:
    """The development stand-in: the principal the X-Dalgu-* headers declare."""
    headers = request.headers
    role_name = headers.get("x-dalgu-role")
    if not role_name:
        raise NotAuthenticated(f"no principal: send X-Dalgu-Role ({ROLES}) and X-Dalgu-Principal")
    try:
        role = Role(role_name.strip().lower())
    except ValueError:
        raise NotAuthenticated(f"X-Dalgu-Role {role_name!r} is not one of {ROLES}") from None
    who = (headers.get("x-dalgu-principal") or "").strip()
    if not who:
        if role != Role.ADMIN:
            raise NotAuthenticated("X-Dalgu-Principal names the caller (e.g. Practitioner/p1)")
        who = "admin"
    if len(who) > 256:
        raise NotAuthenticated("X-Dalgu-Principal is too long")
    patient = None
    if role in (Role.PATIENT, Role.DEVICE) and "://" in who:
        # another server's Patient/x is not this server's Patient/x (R4 references.html)
        raise NotAuthenticated(
            f"a {role.value} principal is a reference to this server's resource, "
            f"{'Patient' if role == Role.PATIENT else 'Device'}/<id>, not a URL"
        )
    if role == Role.PATIENT:
        split = split_reference(who)
        if split is None or split[0] != "Patient":
            raise NotAuthenticated("a patient principal is Patient/<id>")
        patient = split[1]
    if role == Role.DEVICE:
        split = split_reference(who)
        if split is None or split[0] != "Device":
            raise NotAuthenticated("a device principal is Device/<id>")
    purpose = headers.get("x-dalgu-purpose-of-use")
    reason = headers.get("x-dalgu-purpose-reason")
    return Principal(who, role, patient, purpose.strip().upper() if purpose else None, reason)
