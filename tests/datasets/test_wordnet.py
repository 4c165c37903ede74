"""WordNet records, the depth-6 labelling rule, and the packaged data (when installed)."""

import numpy as np

from harness.datasets.wordnet import Synset, ancestor_at_depth, cap_and_split, parse_line
from tests.sources import needs_wordnet

LINE = (
    "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 023 @ 02083346 n 0000 @ 01317541 n 0000 "
    "#m 02083346 n 0000 ~ 01322604 n 0000 | a member of the genus Canis; \"the dog barked all night\"  \n"
)


def test_parse_line_reads_hex_word_count_pointers_and_gloss():
    s = parse_line(LINE)
    assert s.offset == 2084071 and s.lex_filenum == 5
    assert s.words == ("dog", "domestic_dog", "Canis_familiaris")
    assert s.hypernym == 2083346  # the first '@' pointer
    assert s.gloss == 'a member of the genus Canis; "the dog barked all night"'
    assert s.text(True).startswith("dog: a member") and s.text(False).startswith("a member")


def test_word_count_is_hexadecimal():
    words = " ".join(f"w{i} 0" for i in range(11))
    s = parse_line(f"00000001 03 n 0b {words} 000 | gloss\n")
    assert len(s.words) == 11 and s.hypernym is None


def _chain(n):
    """A chain root=0 <- 1 <- ... <- n-1 (synset k's hypernym is k-1)."""
    return {k: Synset(k, 3, (f"s{k}",), k - 1 if k else None, "") for k in range(n)}


def test_ancestor_at_depth_is_a_proper_ancestor():
    chain = _chain(10)
    assert ancestor_at_depth(chain, 9, 6) == 6  # path 0..9: depth 6 is synset 6
    assert ancestor_at_depth(chain, 7, 6) == 6
    assert ancestor_at_depth(chain, 6, 6) is None  # the depth-6 synset is not a sample of its own class
    assert ancestor_at_depth(chain, 3, 6) is None


def test_cap_and_split_is_stratified_and_capped():
    labels = np.repeat([0, 1, 2], [10, 50, 3])
    train, test = cap_and_split(labels, 8, 0.25, 0)
    assert np.bincount(labels[train], minlength=3).tolist() == [6, 6, 2]
    assert np.bincount(labels[test], minlength=3).tolist() == [2, 2, 1]
    assert not set(train) & set(test)
    again = cap_and_split(labels, 8, 0.25, 0)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)


@needs_wordnet
def test_wordnet100_from_the_debian_package():
    from harness.datasets.loading import load_dataset
    from harness.datasets.wordnet import WordNet100Params

    full = load_dataset("wordnet100", WordNet100Params(max_per_class=None))
    sizes = full.train_counts() + full.test_counts()
    assert full.num_classes == 100 and sizes.min() >= 93  # the documented size of the 100th class
    capped = load_dataset("wordnet100", WordNet100Params())
    counts = capped.train_counts() + capped.test_counts()
    assert counts.max() == 100 and counts.min() >= 93
    assert all(isinstance(t, str) and ": " in t for t in capped.train_x[:20])
    assert not set(capped.train_x) & set(capped.test_x)


@needs_wordnet
def test_wordnet45_labels_are_lexicographer_files():
    from harness.datasets.loading import load_dataset
    from harness.datasets.wordnet import WordNet45Params

    data = load_dataset("wordnet45", WordNet45Params(max_per_class=20))
    assert data.num_classes == 45 and data.class_names[5] == "noun.animal"
    assert (data.train_counts() + data.test_counts()).max() == 20


@needs_wordnet
def test_wordnet45_narrowed_to_verbs_keeps_the_verb_files_in_order():
    from harness.datasets.loading import load_dataset
    from harness.datasets.wordnet import LEX_FILES, WordNet45Params

    verbs = load_dataset("wordnet45", WordNet45Params(max_per_class=10, parts_of_speech=["verb"]))
    assert verbs.class_names == tuple(name for name in LEX_FILES if name.startswith("verb."))
    assert verbs.num_classes == 15 and set(verbs.train_y.tolist()) | set(verbs.test_y.tolist()) == set(range(15))
    nouns = load_dataset("wordnet45", WordNet45Params(max_per_class=10, parts_of_speech=["noun"]))
    assert not set(verbs.test_x) & set(nouns.test_x + nouns.train_x)


from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=50, deadline=None)
@given(
    counts=st.lists(st.integers(2, 40), min_size=1, max_size=6),
    cap=st.one_of(st.none(), st.integers(2, 30)),
    fraction=st.floats(0.05, 0.9),
    seed=st.integers(0, 1000),
)
def test_cap_and_split_invariants(counts, cap, fraction, seed):
    labels = np.repeat(np.arange(len(counts)), counts)
    train, test = cap_and_split(labels, cap, fraction, seed)
    assert not set(train.tolist()) & set(test.tolist())
    kept = np.bincount(labels[np.concatenate([train, test])], minlength=len(counts))
    expected = np.minimum(counts, cap) if cap is not None else np.array(counts)
    assert kept.tolist() == expected.tolist()
    assert (np.bincount(labels[test], minlength=len(counts)) >= 1).all()  # every class is tested
    assert (np.bincount(labels[train], minlength=len(counts)) >= 1).all()  # and trained
