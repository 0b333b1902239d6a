"""Simulated city data for the demo, tutorials and benchmarks."""

from dalgu.simulation.city import DAEGU_BBOX, DISTRICTS, city_entities, tick

__all__ = ["DAEGU_BBOX", "DISTRICTS", "city_entities", "tick"]
