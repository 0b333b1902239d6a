"""NGSI-LD subscriptions and notifications."""

from dalgu.subscriptions.notifier import Notifier
from dalgu.subscriptions.service import SubscriptionService

__all__ = ["Notifier", "SubscriptionService"]
