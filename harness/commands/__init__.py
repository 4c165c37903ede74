"""The commands of ``owlbench``, one module each; :mod:`harness.cli` parses the line and dispatches."""
