"""NGSI-LD Context Source Registrations: storage and discovery (clauses 5.9, 5.10, 5.12)."""

from dalgu.registrations.service import RegistrationService

__all__ = ["RegistrationService"]
