"""Executors run a sweep's jobs: ``local`` (in-process), ``process`` (a pool of worker processes),
``ray`` (Ray tasks on a local runtime or a cluster). Each module registers one in ``EXECUTORS``."""
