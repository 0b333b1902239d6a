"""The IoT testbed: device profiles, virtual devices and (coming) conformance runs."""

from dalgu.testbed.profile import DeviceProfile, MeasureSpec, load_profile, shipped_profiles

__all__ = ["DeviceProfile", "MeasureSpec", "load_profile", "shipped_profiles"]
