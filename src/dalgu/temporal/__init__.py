"""The NGSI-LD temporal API: attribute history and its aggregation."""
