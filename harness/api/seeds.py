"""Every seeded use of a job's seed, in one table, so that no two uses draw the same numbers.

A strategy asks its context for ``context.generator(SeedStream.X)`` (or ``SeedStream.X + step`` for a
use repeated per step); the values are those the results of earlier versions were drawn with, so
changing one changes published numbers.
"""

from __future__ import annotations

class SeedStream:
    """Generator streams (plain integers: two uses may share a value when their offsets keep them apart)."""

    NAPA_VQ_BATCHES = 11  # NAPA-VQ's minibatch order
    OVOR_BATCHES = 17  # OVOR's minibatch order and virtual outliers
    FETRIL_SOURCES = 1_000  # + step: FeTrIL's choice of source samples per past class
    FETRIL_PSEUDO = 2_000  # + step: FeTrIL's pseudo-feature draws
    NAPA_VQ_AUGMENT = 5_000  # + step: NAPA-VQ's augmentation of the step's batches
    OVOR_AUGMENT = 6_000  # + step: OVOR's augmentation of the prompt-training batches
    SESSION_BACKBONE = 7_919  # the session backbone's training seed
    DISCOVERY = 7_919  # + step (unlabeled steps are >= 1, so never the backbone's stream): discovery's k-means seedings


# multipliers of seeds derived by ``seed * M + offset`` (not generator streams)
OVOR_HEAD_SEED_FACTOR = 7_919  # OVOR's head initialisation: seed * factor + outputs already there
FETRIL_LINEAR_SEED_FACTOR = 1_000  # FeTrIL's linear layer: seed * factor + step
