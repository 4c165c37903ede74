"""Scenario generators; each module registers one kind in ``harness.api.registry.SCENARIOS``."""
