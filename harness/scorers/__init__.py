"""Open-set scorers, registered by name in ``harness.api.registry.SCORERS``; a board names them in
``open_set: {scorers: [...]}`` and every step reports AUROC, FPR@95, AUPR-In and AUPR-Out per scorer."""
