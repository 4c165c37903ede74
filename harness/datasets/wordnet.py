"""WordNet texts from Debian's ``wordnet-base``: WordNet-100 (noun glosses labelled by their
hypernym ancestor at depth 6) and WordNet-45 (every synset labelled by its lexicographer file).

A record of ``data.<pos>`` reads ``offset lex_filenum ss_type w_cnt (word lex_id)^w_cnt p_cnt
(symbol offset pos source/target)^p_cnt [frames] | gloss``; ``w_cnt`` is hexadecimal, ``p_cnt``
decimal.  The text of a sample is ``"<first word>: <gloss>"`` (or the gloss alone).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from harness.api.dataset import Dataset, DatasetSource
from harness.api.params import Params
from harness.api.registry import DATASETS
from harness.datasets.splits import cap_per_class, stratified_split

PACKAGE = "wordnet-base"
DEFAULT_DIR = Path("/usr/share/wordnet")
POS_FILES = ("noun", "verb", "adj", "adv")
HYPERNYMS = ("@", "@i")  # hypernym, instance hypernym
LABEL_DEPTH = 6  # depth of the label ancestor below the root "entity" (depth 0)


@dataclass(frozen=True)
class Synset:
    offset: int
    lex_filenum: int
    words: tuple[str, ...]
    hypernym: int | None  # first @ / @i pointer (nouns only), None at the root
    gloss: str

    def text(self, include_words: bool) -> str:
        return f"{self.words[0].replace('_', ' ')}: {self.gloss}" if include_words else self.gloss


def wordnet_dir() -> Path:
    """The WordNet database folder: ``$OWLBENCH_WORDNET_DIR`` or the Debian package's location."""
    folder = Path(os.environ.get("OWLBENCH_WORDNET_DIR", DEFAULT_DIR))
    if not (folder / "data.noun").is_file():
        raise FileNotFoundError(
            f"WordNet data files not found in {folder}; install the Debian package '{PACKAGE}' "
            "(apt-get install wordnet-base) or set OWLBENCH_WORDNET_DIR"
        )
    return folder


def parse_line(line: str) -> Synset:
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    w_cnt = int(fields[3], 16)
    words = tuple(fields[4 : 4 + 2 * w_cnt : 2])
    p_at = 4 + 2 * w_cnt
    p_cnt = int(fields[p_at])
    hypernym = None
    for k in range(p_cnt):
        symbol, target, pos = fields[p_at + 1 + 4 * k : p_at + 4 + 4 * k]
        if symbol in HYPERNYMS and pos == "n":
            hypernym = int(target)
            break
    return Synset(int(fields[0]), int(fields[1]), words, hypernym, gloss.strip())


@functools.lru_cache(maxsize=8)
def read_synsets(folder: Path, pos: str) -> tuple[Synset, ...]:
    """Every synset of ``data.<pos>`` in file order (licence lines start with two spaces)."""
    with open(folder / f"data.{pos}", encoding="utf-8") as handle:
        return tuple(parse_line(line) for line in handle if not line.startswith("  ") and line.strip())


def ancestor_at_depth(synsets: dict[int, Synset], offset: int, depth: int) -> int | None:
    """The proper ancestor of ``offset`` at ``depth`` on its first-hypernym path to the root;
    ``None`` when the synset itself is at ``depth`` or above."""
    path = [offset]
    while synsets[path[-1]].hypernym is not None:
        path.append(synsets[path[-1]].hypernym)
        if len(path) > 100:
            raise ValueError(f"hypernym cycle at synset {offset}")
    path.reverse()  # root first: path[d] is the ancestor at depth d
    return path[depth] if len(path) > depth + 1 else None


def cap_and_split(labels: np.ndarray, cap: int | None, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``cap`` samples per class (drawn by ``seed``), then a stratified train/test split."""
    keep = cap_per_class(labels, cap, [seed, 7])
    train, test = stratified_split(labels[keep], test_fraction, seed)
    return keep[train], keep[test]


class WordNetParams(Params):
    max_per_class: int | None = Field(
        100, ge=2, description="at most this many synsets per class (drawn by split_seed); null keeps all"
    )
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of each class held out for testing")
    split_seed: int = Field(0, ge=0, description="seed of the cap draw and the train/test split")
    include_words: bool = Field(True, description="text is '<first word>: <gloss>' (false: the gloss alone)")


def text_dataset(name: str, texts: list[str], labels: np.ndarray, class_names: tuple[str, ...], params: WordNetParams) -> Dataset:
    train, test = cap_and_split(labels, params.max_per_class, params.test_fraction, params.split_seed)
    y = torch.from_numpy(labels.astype(np.int64))
    return Dataset(
        name=name,
        train_x=tuple(texts[i] for i in train),
        train_y=y[train],
        test_x=tuple(texts[i] for i in test),
        test_y=y[test],
        class_names=class_names,
    )


class WordNet100Params(WordNetParams):
    num_classes: int = Field(100, ge=2, le=100, description="the largest depth-6 ancestors kept as classes")


@DATASETS.register("wordnet100")
class WordNet100(DatasetSource):
    """Noun glosses labelled by their hypernym ancestor at depth 6 (the 100 largest ancestors); text.

    The label follows the first hypernym (``@``, else ``@i``) pointer up to the root; nouns whose
    path is not deeper than 6 are left out (the ancestor itself is not a sample of its class).  Classes are ordered by ancestor offset; ties in size are
    broken by offset.  Needs a text backbone (e.g. ``minilm``).
    """

    Params = WordNet100Params

    def load(self, params: WordNet100Params) -> Dataset:
        nouns = read_synsets(wordnet_dir(), "noun")
        by_offset = {s.offset: s for s in nouns}
        ancestors = [ancestor_at_depth(by_offset, s.offset, LABEL_DEPTH) for s in nouns]
        sizes: dict[int, int] = {}
        for a in ancestors:
            if a is not None:
                sizes[a] = sizes.get(a, 0) + 1
        largest = sorted(sorted(sizes, key=lambda a: (-sizes[a], a))[: params.num_classes])
        label_of = {a: i for i, a in enumerate(largest)}
        members = [i for i, a in enumerate(ancestors) if a in label_of]
        labels = np.array([label_of[ancestors[i]] for i in members])
        texts = [nouns[i].text(params.include_words) for i in members]
        names = tuple(f"{by_offset[a].words[0]}.{a:08d}" for a in largest)
        return text_dataset("wordnet100", texts, labels, names, params)


LEX_FILES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()


class WordNet45Params(WordNetParams):
    max_per_class: int | None = Field(
        200, ge=2, description="at most this many synsets per class (drawn by split_seed); null keeps all"
    )
    parts_of_speech: list[Literal["noun", "verb", "adj", "adv"]] = Field(
        list(POS_FILES), min_length=1, description="the data files read: e.g. [verb] for verb glosses only (far unknowns of a noun board)"
    )


@DATASETS.register("wordnet45")
class WordNet45(DatasetSource):
    """Synsets of all four parts of speech labelled by their lexicographer file (45 classes); text.

    Class ``k`` is lexicographer file ``k`` (``noun.animal`` is 5).  With ``parts_of_speech``
    narrowed (e.g. ``[verb]``: 15 classes), the lexicographer files of those parts keep their
    order, numbered from 0.  Needs a text backbone.
    """

    Params = WordNet45Params

    def load(self, params: WordNet45Params) -> Dataset:
        folder = wordnet_dir()
        synsets = [s for pos in POS_FILES if pos in params.parts_of_speech for s in read_synsets(folder, pos)]
        files = np.array([s.lex_filenum for s in synsets])
        kept = np.unique(files)  # every file when all four parts are read: class k is file k
        labels = np.searchsorted(kept, files)
        texts = [s.text(params.include_words) for s in synsets]
        return text_dataset("wordnet45", texts, labels, tuple(LEX_FILES[k] for k in kept), params)
