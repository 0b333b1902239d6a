"""The FHIR R4 REST API (`/fhir`): routes, principal resolution, OperationOutcome errors."""

from dalgu.api.fhir.identity import PrincipalResolver, header_principal
from dalgu.api.fhir.routes import routes

__all__ = ["PrincipalResolver", "header_principal", "routes"]
