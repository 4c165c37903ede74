"""owlbench's engine: config, registries, datasets, prototype store, metrics, runner and reports."""

__version__ = "0.1.0"
