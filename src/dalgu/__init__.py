"""Dalgu: a smart-city IoT testbed and city data hub built on an ETSI NGSI-LD context broker."""

__version__ = "0.1.0"
