"""Simulated city data for the demo, tutorials and benchmarks."""

from dalgu.simulation.city import DISTRICTS, city_entities, tick

__all__ = ["DISTRICTS", "city_entities", "tick"]
