"""Strategies, one module each, registered in ``harness.registry.STRATEGIES``."""
