"""Class bookkeeping of the prototype store: which classes and prototype slots it holds, in which
rows, and the edits that add, remove, merge and relabel them (statistics are merged exactly)."""

from __future__ import annotations

from typing import Iterable

import torch

from harness.store.streaming import merge_groups

_CLASS_CACHE = ("ids", "lookup")  # cache entries that depend on the classes only, not their statistics


def _appendable(new: list[tuple[int, int]], known: dict) -> bool:
    """True when ``new`` (class, slot) keys are all of unknown classes, each class's keys
    contiguous with ascending slots: appended as they are, rows stay ordered by (class, slot)."""
    seen = set()
    for i, (c, slot) in enumerate(new):
        if c in known:
            return False
        if i and new[i - 1][0] == c:
            if new[i - 1][1] >= slot:
                return False
        elif c in seen:
            return False
        seen.add(c)
    return True


class ClassBookkeeping:
    """Mixin of :class:`harness.store.prototype_store.PrototypeStore`: rows, slots and class edits."""

    def _changed(self, classes: bool = True) -> None:
        """Drop cached query structures; the class-id lookups too when ``classes`` changed."""
        self._version += 1
        keep = {} if classes else {k: self._cache[k] for k in _CLASS_CACHE if k in self._cache}
        self._cache = keep

    def _ensure(self, keys: list[tuple[int, int]]) -> None:
        """Add empty prototypes for unknown (class, slot) keys, keeping rows ordered by class, slot.

        New classes whose slots arrive in ascending order are appended in place (amortised
        growth, no reordering), so streaming in new classes costs nothing per known class.
        """
        new = [k for k in dict.fromkeys(keys) if k not in self._proto_row]
        if not new:
            return
        appended = _appendable(new, self._class_row)
        for c, _ in new:
            if c not in self._class_row:
                self._class_row[c] = len(self._classes)
                self._classes.append(c)
        first = len(self._keys)
        self._keys.extend(new)
        for name in ("_n", "_mu", "_m2", "_protos"):
            if getattr(self, name) is not None:
                setattr(self, name, self._grown(name, len(new)))
        if not appended:
            self._reindex(list(range(len(self._keys))))
            return
        self._proto_row.update((k, first + i) for i, k in enumerate(new))
        rows = torch.tensor([self._class_row[c] for c, _ in new], dtype=torch.long, device=self.device)
        self._proto_class = torch.cat([self._proto_class, rows])
        self._changed()

    def _grown(self, name: str, extra: int) -> torch.Tensor:
        """Tensor ``name`` with ``extra`` zero rows appended, inside a buffer grown by half when full."""
        t = getattr(self, name)
        n = len(t)
        buf = self._spare.get(name)
        if buf is None or buf.data_ptr() != t.data_ptr() or len(buf) < n + extra:
            buf = t.new_zeros((max(n + extra, n + n // 2, 16), *t.shape[1:]))
            buf[:n] = t
            self._spare[name] = buf
        else:
            buf[n : n + extra].zero_()
        return buf[: n + extra]

    def _reindex(self, keep: list[int]) -> None:
        """Keep prototype rows ``keep``, sorted by (class row, slot); rebuild every lookup."""
        keep = sorted(keep, key=lambda r: (self._class_row[self._keys[r][0]], self._keys[r][1]))
        live = list(dict.fromkeys(self._keys[r][0] for r in keep))
        self._classes = live
        self._class_row = {c: i for i, c in enumerate(live)}
        idx = torch.tensor(keep, dtype=torch.long, device=self.device)
        self._keys = [self._keys[r] for r in keep]
        self._proto_row = {k: i for i, k in enumerate(self._keys)}
        self._proto_class = torch.tensor([self._class_row[c] for c, _ in self._keys], dtype=torch.long, device=self.device)
        self._n, self._mu, self._protos = self._n[idx], self._mu[idx], self._protos[idx]
        if self._m2 is not None:
            self._m2 = self._m2[idx]
        self._changed()

    def set_means(self, class_ids: Iterable[int], means: torch.Tensor, counts: torch.Tensor | None = None) -> None:
        """Overwrite (or add) classes with the given means, e.g. calibrated prototypes.

        A class keeps one prototype (slot 0); its covariance is reset to zero and its count set to
        ``counts`` (kept when not given and the class exists, else 0).
        """
        class_ids = [int(c) for c in class_ids]
        means = torch.as_tensor(means).to(self.device)
        if means.shape != (len(class_ids), self.dim):
            raise ValueError(f"means must have shape ({len(class_ids)}, {self.dim}), got {tuple(means.shape)}")
        if len(set(class_ids)) != len(class_ids):
            raise ValueError("class_ids must not repeat")
        if counts is not None and len(counts) != len(class_ids):
            raise ValueError(f"counts must have length {len(class_ids)}, got {len(counts)}")
        current = self.counts.tolist()
        old_counts = {c: current[self._class_row[c]] for c in class_ids if c in self._class_row}
        drop = {r for r, (c, s) in enumerate(self._keys) if c in old_counts and s != 0}
        if drop:
            self._reindex([r for r in range(len(self._keys)) if r not in drop])
        self._ensure([(c, 0) for c in class_ids])
        rows = torch.tensor([self._proto_row[(c, 0)] for c in class_ids], dtype=torch.long, device=self.device)
        if counts is None:
            counts = torch.tensor([old_counts.get(c, 0.0) for c in class_ids])
        self._n[rows] = torch.as_tensor(counts).to(self.device, self.stats_dtype)
        self._mu[rows] = means.to(self.stats_dtype)
        self._protos[rows] = means.to(self.dtype)
        if self._m2 is not None:
            self._m2[rows] = 0
        self._changed(classes=False)

    def add(self, class_ids: Iterable[int], means: torch.Tensor, counts: torch.Tensor | None = None) -> None:
        """Add new classes with the given means; refuses classes already in the store."""
        class_ids = [int(c) for c in class_ids]
        present = [c for c in class_ids if c in self._class_row]
        if present:
            raise ValueError(f"classes already in the store: {present[:10]} (use set_means to overwrite)")
        self.set_means(class_ids, means, counts)

    def remove(self, class_ids: Iterable[int]) -> None:
        """Forget classes and all their prototypes."""
        gone = {int(c) for c in class_ids}
        missing = sorted(gone - set(self._class_row))
        if missing:
            raise KeyError(f"classes not in the store: {missing[:10]}")
        self._reindex([r for r, (c, _) in enumerate(self._keys) if c not in gone])

    def merge(self, class_ids: Iterable[int], into: int) -> None:
        """Pool the samples of ``class_ids`` (and of ``into`` if present) into class ``into``.

        Prototypes with the same slot are merged exactly (pairwise update); the sources are removed.
        ``into`` keeps its position if it exists, else takes the position of the first source.
        """
        sources = [int(c) for c in class_ids]
        into = int(into)
        missing = [c for c in sources if c not in self._class_row]
        if missing:
            raise KeyError(f"classes not in the store: {missing[:10]}")
        members = set(sources) | ({into} if into in self._class_row else set())
        rows = [r for r, (c, _) in enumerate(self._keys) if c in members]
        slots = sorted({self._keys[r][1] for r in rows})
        group = torch.tensor([slots.index(self._keys[r][1]) for r in rows], dtype=torch.long, device=self.device)
        idx = torch.tensor(rows, dtype=torch.long, device=self.device)
        m2 = None if self._m2 is None else self._m2[idx]
        n, mu, m2 = merge_groups(self._n[idx], self._mu[idx], m2, group, len(slots))
        position = self._class_row.get(into, self._class_row[sources[0]])
        others = [r for r in range(len(self._keys)) if r not in set(rows)]
        # rename: `into` takes `position`; its prototypes are rebuilt from the merged statistics
        order = [c for c in self._classes if c not in members]
        order.insert(min(position, len(order)), into)
        self._class_row = {c: i for i, c in enumerate(order)}
        self._classes = order
        base = len(self._keys)
        self._keys.extend((into, s) for s in slots)
        self._n = torch.cat([self._n, n])
        self._mu = torch.cat([self._mu, mu])
        if self._m2 is not None:
            self._m2 = torch.cat([self._m2, m2])
        self._protos = torch.cat([self._protos, mu.to(self.dtype)])
        self._reindex(others + list(range(base, base + len(slots))))

    def relabel(self, mapping: dict[int, int]) -> None:
        """Rename classes (``old id -> new id``); positions are kept.  Use :meth:`merge` to combine."""
        mapping = {int(a): int(b) for a, b in mapping.items()}
        missing = [c for c in mapping if c not in self._class_row]
        if missing:
            raise KeyError(f"classes not in the store: {missing[:10]}")
        new_ids = [mapping.get(c, c) for c in self._classes]
        if len(set(new_ids)) != len(new_ids):
            raise ValueError("relabel would give two classes the same id; use merge() to combine classes")
        self._classes = new_ids
        self._class_row = {c: i for i, c in enumerate(new_ids)}
        self._keys = [(mapping.get(c, c), s) for c, s in self._keys]
        self._proto_row = {k: i for i, k in enumerate(self._keys)}
        self._changed()
