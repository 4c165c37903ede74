"""Scenario generators; each module registers one kind in ``harness.registry.SCENARIOS``."""
