"""Bridges to other continual-learning libraries (avalanche-lib)."""
