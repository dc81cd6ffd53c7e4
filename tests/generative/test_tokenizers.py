"""Item tokenizers and the leakage check on real ML-100K users."""

from __future__ import annotations

import numpy as np
import pytest

from llm4rec.data.split import Split
from llm4rec.errors import ConfigError
from llm4rec.models.generative import ITEM_TOKENIZERS, leakage_check, make_tokenizer
from llm4rec.models.generative.leakage import id_numbers

PARAMS = {"random": {}, "sequential": {}, "collaborative": {"clusters": 8, "levels": 2, "dims": 8},
          "svd": {"dims": 4, "bins": 8}, "semantic": {"clusters": 8, "levels": 2}, "title": {"words": 3},
          "rqvae": {"clusters": 8, "levels": 2, "latent": 8, "hidden": [16], "epochs": 5}}


def _inputs(split: Split, ml100k):
    n = split.train.n_items
    texts = [ml100k.catalog.title(i) for i in range(n)]
    vectors = np.random.default_rng(0).standard_normal((n, 16))  # unit test of the quantiser itself
    return texts, vectors


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_unique_ids_state_round_trip_and_cut(name, small_split, ml100k):
    texts, vectors = _inputs(small_split, ml100k)
    tok = make_tokenizer(name, PARAMS[name]).fit(small_split.train, small_split.train.n_items,
                                                 texts=texts, vectors=vectors)
    codes = tok.codes_
    assert codes.shape[0] == small_split.train.n_items
    assert len(np.unique(codes, axis=0)) == len(codes)  # every item has its own id
    usage = tok.usage()
    assert len(usage) == codes.shape[1] and all(0 < u["used_share"] <= 1 for u in usage)
    back = type(tok).from_state(tok.config, tok.state())
    np.testing.assert_array_equal(back.codes_, codes)
    assert leakage_check(tok, small_split, texts=texts, vectors=vectors).cut_ok


def test_registry_lists_every_scheme():
    assert set(PARAMS) <= set(ITEM_TOKENIZERS.names())
    with pytest.raises(ConfigError, match="unknown item tokenizer"):
        make_tokenizer("nope")
    with pytest.raises(ConfigError, match="needs item vectors"):
        make_tokenizer("semantic").fit(None, 3)


def test_sequential_ids_leak_and_random_ids_do_not(ml100k):
    """P5's ids fitted on the whole log make the test item predictable; random ids stay at chance."""
    from llm4rec.data.split import leave_one_out

    inter = ml100k.interactions
    split = leave_one_out(inter.subset(inter.user < 300))
    full = split.train.concat(split.valid).concat(split.test)
    p5 = make_tokenizer("sequential").fit(full, full.n_items)
    report = leakage_check(p5, split)
    assert not report.cut_ok and not report.passed  # fitted past the cut
    rand = make_tokenizer("random").fit(split.train, split.train.n_items)
    clean = leakage_check(rand, split)
    assert clean.passed
    assert report.predictable > 10 * max(clean.predictable, clean.chance)  # the max(seen)+1 effect


def test_id_numbers_read_codes_lexicographically():
    codes = np.array([[1, 0], [0, 1], [0, 0], [1, 1]])
    np.testing.assert_array_equal(id_numbers(codes), [2, 1, 0, 3])
