"""Torch models (BPR-MF, SASRec, BERT4Rec, GRU4Rec): training sanity and sequence handling.

The shared contract suite (tests/contract.py) already covers shapes, save/load,
pickling and determinism; these tests cover what is specific to the torch base
and the sequential models, on the first 120 real ML-100K users.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from llm4rec.data.interactions import Interactions
from llm4rec.data.split import Split
from llm4rec.eval import FullRanking, early_stopping
from llm4rec.models import make_model
from llm4rec.models.base import Recommender
from llm4rec.models.classic.sequential import gather_left_padded, window_bounds

TINY = {"progress": False, "seed": 1}
CONFIGS = {
    "bpr": {"factors": 16, "epochs": 6, "lr": 0.05, "batch_size": 1024, "eval_every": 2},
    "sasrec": {"hidden": 16, "epochs": 4, "max_len": 20, "lr": 5e-3},
    "bert4rec": {"hidden": 16, "epochs": 4, "max_len": 20, "lr": 5e-3},
    "gru4rec": {"hidden": 16, "epochs": 4, "max_len": 20, "lr": 5e-3},
}
SEQUENTIAL = ["sasrec", "bert4rec", "gru4rec"]


@pytest.fixture(scope="module")
def fitted(small_split: Split) -> dict[str, Recommender]:
    options = early_stopping(small_split.train, small_split.valid)
    return {name: make_model(name, {**TINY, **cfg}).fit(small_split.train, small_split.valid, options)
            for name, cfg in CONFIGS.items()}


@contextmanager
def scored_with(model: Recommender, history: Interactions, restore: Interactions) -> Iterator[Recommender]:
    """Temporarily give ``model`` another inference-time history."""
    model.set_history(history)
    try:
        yield model
    finally:
        model.set_history(restore)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_training_beats_random_on_valid(fitted, small_split, name):
    model = fitted[name]
    result = FullRanking().evaluate(model, small_split, part="valid", ks=(50,), metrics=("hr",))
    chance = 50 / small_split.n_items
    assert result.per_user["hr@50"].mean() > 3 * chance
    log = model.fit_log_
    assert log and all(np.isfinite(e["loss"]) for e in log)
    assert any("ndcg@10" in e for e in log) and 1 <= model.best_epoch_ <= len(log)


def test_loss_variants_train(small_split):
    for name, loss in (("sasrec", "bce"), ("gru4rec", "bpr")):
        model = make_model(name, {**TINY, **CONFIGS[name], "loss": loss, "epochs": 1})
        model.fit(small_split.train)  # no valid: no early stopping, last weights kept
        assert np.isfinite(model.fit_log_[0]["loss"]) and "ndcg@10" not in model.fit_log_[0]
        assert np.isfinite(model.score([0, 1])).all()


def test_fit_leaves_global_torch_rng_alone(small_split):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_model("gru4rec", {**TINY, **CONFIGS["gru4rec"], "epochs": 1}).fit(small_split.train)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_scores_follow_the_inference_history(fitted, small_split, name):
    model = fitted[name]
    users = np.unique(small_split.valid.user)[:4]
    before = model.score(users)
    with scored_with(model, small_split.known_for("test"), small_split.train):
        after = model.score(users)  # valid item appended to every sequence
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(model.score(users), before)

    # a user whose history is made a copy of another user's sequence scores exactly like that user
    a, b = int(users[0]), int(users[1])
    train = small_split.train
    seq_a = train.item[train.user == a]
    copy = Interactions.build(np.full(len(seq_a), b), seq_a, np.arange(len(seq_a)), n_users=train.n_users,
                              n_items=train.n_items)
    history = train.subset(train.user != b).concat(copy)
    with scored_with(model, history, train):
        s = model.score([a, b])
    np.testing.assert_allclose(s[0], s[1], rtol=1e-5, atol=1e-5)

    # order matters: the same items in another order give other scores
    reversed_b = Interactions.build(np.full(len(seq_a), b), seq_a[::-1], np.arange(len(seq_a)),
                                    n_users=train.n_users, n_items=train.n_items)
    with scored_with(model, train.subset(train.user != b).concat(reversed_b), train):
        s = model.score([a, b])
    assert not np.allclose(s[0], s[1])


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_empty_history_users_get_defined_scores(fitted, small_split, name):
    model = fitted[name]
    train = small_split.train
    with scored_with(model, train.subset(train.user != 0), train):
        s = model.score([0, 500])  # user 0 lost its history; user 500 never had one (outside the subset)
    assert np.isfinite(s).all()
    np.testing.assert_allclose(s[0], s[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_save_load_keeps_time_order(fitted, small_split, name, tmp_path):
    """The base stores history as CSR (item-id order); sequential models must restore time order."""
    model = fitted[name]
    train = small_split.train
    u = int(train.user[0])
    seq = train.item[train.user == u]
    assert not np.array_equal(seq, np.sort(seq))  # time order differs from id order
    before = model.score([u])
    loaded = Recommender.load(model.save(tmp_path / name))
    np.testing.assert_array_equal(loaded.score([u]), before)


def test_bpr_negatives_avoid_seen_items(fitted, small_split):
    model = fitted["bpr"]
    users = small_split.train.user.astype(np.int64)
    neg = model._sample_negatives(users, np.random.default_rng(0))
    seen = small_split.train.to_csr()
    assert not np.asarray(seen[users, neg]).any()



@pytest.mark.parametrize("name", ["bpr", "lightgcn"])
def test_bpr_several_negatives_per_positive(small_split, name):
    """n_negatives=k pairs each positive with k unseen items (a (batch, k) block) and still learns."""
    params = {**TINY, **CONFIGS["bpr"], "epochs": 3, "n_negatives": 3}
    model = make_model(name, params).fit(small_split.train)
    u, i, j = next(model._batches(np.random.default_rng(0)))
    assert j.shape == (len(u), 3) and len(i) == len(u)
    seen = small_split.train.to_csr()
    assert not np.asarray(seen[np.repeat(u.numpy(), 3), j.numpy().ravel()]).any()
    assert np.isfinite(model._loss((u, i, j)).item())
    result = FullRanking().evaluate(model, small_split, part="valid", ks=(50,), metrics=("hr",))
    assert result.per_user["hr@50"].mean() > 3 * 50 / small_split.n_items

def test_window_helpers():
    offsets = np.array([0, 5, 6, 8])  # users with 5, 1 and 2 tokens
    tokens = np.arange(1, 9)
    starts, ends = window_bounds(offsets, size=3, overlap=1, min_len=2, all_windows=True)
    # user 0: windows [2,5) and [0,3) share one token; user 1 too short; user 2 one window
    assert list(zip(starts, ends, strict=True)) == [(2, 5), (0, 3), (6, 8)]
    starts1, _ = window_bounds(offsets, size=3, overlap=1, min_len=2, all_windows=False)
    assert list(starts1) == [2, 6]
    win = gather_left_padded(tokens, starts, ends, 4)
    np.testing.assert_array_equal(win, [[0, 3, 4, 5], [0, 1, 2, 3], [0, 0, 7, 8]])
    assert gather_left_padded(np.zeros(0, np.int64), np.array([0]), np.array([0]), 3).tolist() == [[0, 0, 0]]


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_last_only_encoding_matches_the_full_pass(fitted, name):
    """Scoring runs the last block for the last position only; it must equal the full pass."""
    net = fitted[name].net_
    seq = torch.from_numpy(fitted[name]._history_tokens(np.arange(8), 20))
    seq[0, :15] = 0  # a short (left-padded) history too
    with torch.inference_mode():
        full, last = net.encode(seq)[:, -1], net.encode(seq, last_only=True)[:, -1]
    torch.testing.assert_close(last, full, rtol=1e-5, atol=1e-5)


def _counting_validator(sign: float):
    """A validator whose score rises (sign 1) or falls (sign -1) with every call."""
    calls = []

    def validate(model) -> float:
        calls.append(1)
        return sign * len(calls)

    return validate


def test_budget_in_steps_and_warning_when_still_rising(small_split, caplog):
    from llm4rec.models.training import TrainingOptions

    params = {**TINY, **CONFIGS["bpr"], "epochs": 50, "max_steps": 6, "batch_size": 100_000, "eval_every": 1}
    model = make_model("bpr", params)
    with caplog.at_level("WARNING"):
        model.fit(small_split.train, small_split.valid, TrainingOptions(validator=_counting_validator(1.0)))
    assert model._n_batches() == 1 and len(model.fit_log_) == 6 and model.fit_log_[-1]["steps"] == 6
    assert model.stop_reason_ == "budget" and "still rising" in caplog.text
    caplog.clear()
    falling = make_model("bpr", {**params, "patience": 2})
    with caplog.at_level("WARNING"):
        falling.fit(small_split.train, small_split.valid, TrainingOptions(validator=_counting_validator(-1.0)))
    assert falling.stop_reason_ == "patience" and falling.best_epoch_ == 1 and "still rising" not in caplog.text


def test_validations_are_spaced_in_optimiser_steps(small_split):
    from llm4rec.models.training import TrainingOptions

    params = {**TINY, **CONFIGS["bpr"], "epochs": 7, "batch_size": 100_000, "eval_every": 1, "eval_steps": 3}
    model = make_model("bpr", params).fit(small_split.train, small_split.valid,
                                          TrainingOptions(validator=_counting_validator(1.0)))
    assert [e["epoch"] for e in model.fit_log_ if "ndcg@10" in e] == [3, 6, 7]  # and always the last epoch


def test_threads_is_a_runtime_option_restored_after_fit(small_split):
    from llm4rec.models.training import TrainingOptions

    seen: list[int] = []
    before = torch.get_num_threads()
    model = make_model("bpr", {"factors": 8, "epochs": 1, "progress": False})
    model.fit(small_split.train, None, TrainingOptions(threads=1, callbacks=[lambda m, log: seen.append(
        torch.get_num_threads())]))
    assert seen == [1] and torch.get_num_threads() == before
    assert "threads" not in model.config.model_dump()  # not a hyper-parameter: never saved
    with pytest.raises(ValueError, match="threads"):
        TrainingOptions(threads=0)
