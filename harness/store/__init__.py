"""Building blocks of :class:`harness.prototype_store.PrototypeStore` (torch and numpy only)."""
