"""Building blocks of :class:`harness.store.prototype_store.PrototypeStore` (torch and numpy only)."""
