"""Operating a Dalgu deployment: its status (`dalgu status`) and backups (`dalgu backup`)."""

from dalgu.upkeep.backup import back_up
from dalgu.upkeep.status import Status, TenantStatus, read_status

__all__ = ["Status", "TenantStatus", "back_up", "read_status"]
