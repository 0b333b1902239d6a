"""Distributed operations (ETSI GS CIM 009 clause 4.3.6): requests forwarded to the context
sources that registrations name, and their answers merged with this broker's own."""
