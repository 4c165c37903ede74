"""Strategies, one module each, registered in ``harness.api.registry.STRATEGIES``."""
