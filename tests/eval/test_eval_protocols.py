"""Protocols on hand-made splits with stub scorers, plus one run on real MovieLens-100K."""

from __future__ import annotations

import numpy as np
import pytest
from eval_stubs import FnModel, constant_model, make_split, matrix_model, random_split

from llm4rec.config import Config
from llm4rec.errors import ConfigError
from llm4rec.eval.protocols import (
    FullRanking,
    Pointwise,
    Protocol,
    ProtocolResult,
    SampledCandidates,
    make_protocol,
    sample_negatives,
    targets,
)

# Scores for tiny_split (3 users x 6 items); known before test: u0 {0,1,2}, u1 {2,3}, u2 {0}
SCORES = [[9, 8, 7, 1, 5, 6],   # u0: seen items score highest but are excluded -> ranking 5, 4, 3
          [0, 0, 0, 0, 0, 1],   # u1: item 5 first, then a tie between 0, 1, 4
          [3, 2, 1, 0, 0, 0]]   # u2: item 0 excluded -> ranking 1, 2, ...


# ---------------------------------------------------------------------------- full ranking
def test_targets_exclude_known_items(tiny_split):
    users, items = targets(tiny_split, "test")
    # u2's test item 0 is in train -> not a target
    assert list(zip(users.tolist(), items.tolist(), strict=True)) == [(0, 3), (0, 4), (1, 5), (2, 1)]


def test_full_ranking_hand_computed(tiny_split):
    model = matrix_model(SCORES, tiny_split.train)
    res = FullRanking(tie_break="index").evaluate(model, tiny_split, ks=(1, 2))
    assert isinstance(res, ProtocolResult) and res.protocol == "full" and res.part == "test"
    np.testing.assert_array_equal(res.users, [0, 1, 2])
    pu = res.per_user
    # u0: list [5, 4, ...], targets {3, 4}: hit at position 2 only
    #   @1 all 0; @2: hr 1, recall 1/2, precision 1/2, ndcg (1/log2 3) / (1 + 1/log2 3),
    #   mrr 1/2, map = P@2 / min(2, 2) = (1/2) / 2
    # u1: list [5, ...], target {5}: hit at 1 -> every metric 1 at @1
    # u2: list [1, 2, ...], target {1}: hit at 1 -> every metric 1 at @1
    for m in ("hr", "recall", "ndcg", "mrr", "map", "precision"):
        np.testing.assert_allclose(pu[f"{m}@1"], [0, 1, 1], err_msg=m)
    g = 1 / np.log2(3)
    np.testing.assert_allclose(pu["hr@2"], [1, 1, 1])
    np.testing.assert_allclose(pu["recall@2"], [1 / 2, 1, 1])
    np.testing.assert_allclose(pu["precision@2"], [1 / 2, 1 / 2, 1 / 2])
    np.testing.assert_allclose(pu["ndcg@2"], [g / (1 + g), 1, 1])
    np.testing.assert_allclose(pu["mrr@2"], [1 / 2, 1, 1])
    np.testing.assert_allclose(pu["map@2"], [1 / 4, 1, 1])
    # top-1 items {5, 5, 1} -> 2 of 6; top-2 {5,4}, {5,0} (tie broken by id), {1,2} -> 5 of 6
    assert res.global_metrics["coverage@1"] == pytest.approx(2 / 6)
    assert res.global_metrics["coverage@2"] == pytest.approx(5 / 6)
    # train counts: item0 2, item1 1, item2 1, others 0.  @1: 0, 0, 1;  @2: (0+0)/2, (0+2)/2, (1+1)/2
    np.testing.assert_allclose(pu["popularity@1"], [0, 0, 1])
    np.testing.assert_allclose(pu["popularity@2"], [0, 1, 1])
    assert res.seconds > 0


def test_full_ranking_valid_part_and_user_subset(tiny_split):
    model = matrix_model(SCORES, tiny_split.train)
    # valid: known = train; u0 target {2}: u0's unseen ranking is 2 (7), 5 (6), 4 (5) -> hit at 1
    # u1 target {3}: unseen ranking 5 (1), then ties -> with index tie-break 0, 1, 3 -> hit at 4
    res = FullRanking(tie_break="index").evaluate(model, tiny_split, "valid", ks=(1, 5), metrics=["mrr"])
    np.testing.assert_array_equal(res.users, [0, 1])
    np.testing.assert_allclose(res.per_user["mrr@5"], [1, 1 / 4])
    assert list(res.per_user) == ["mrr@1", "mrr@5"] and res.global_metrics == {}
    sub = FullRanking().evaluate(model, tiny_split, ks=(1,), metrics=["hr"], users=np.array([1]))
    np.testing.assert_array_equal(sub.users, [1])


def test_full_ranking_random_tie_break_is_seeded_and_not_by_id():
    split = random_split()
    model = constant_model(split.train)
    by_id = FullRanking(tie_break="index").evaluate(model, split, ks=(10,), metrics=["coverage"])
    a = FullRanking(seed=1).evaluate(model, split, ks=(10,), metrics=["hr", "coverage"])
    b = FullRanking(seed=1).evaluate(model, split, ks=(10,), metrics=["hr", "coverage"])
    np.testing.assert_array_equal(a.per_user["hr@10"], b.per_user["hr@10"])
    # a constant scorer with id tie-breaking recommends the lowest ids (here also the most popular);
    # the seeded random order gives a chance-level list instead
    assert a.summary()["hr@10"] < 0.2
    assert by_id.global_metrics["coverage@10"] < 0.15


def test_full_ranking_nan_scores_rank_last(tiny_split):
    scores = np.array(SCORES, dtype=float)
    scores[1, 5] = np.nan  # u1's target becomes unscorable
    res = FullRanking(tie_break="index").evaluate(matrix_model(scores, tiny_split.train), tiny_split,
                                                  ks=(3,), metrics=["hr"])
    assert res.per_user["hr@3"][1] == 0


# ---------------------------------------------------------------------------- sampled candidates
def _interacted(split):
    return {(u, i) for part in (split.train, split.valid, split.test)
            for u, i in zip(part.user.tolist(), part.item.tolist(), strict=True)}


@pytest.mark.parametrize("sampler", ["uniform", "popularity"])
def test_candidates_are_valid_fixed_and_cached(sampler):
    split = random_split()
    proto = SampledCandidates(n_negatives=50, sampler=sampler, seed=3)
    users, items = proto.candidates(split)
    t_users, t_items = targets(split, "test")
    np.testing.assert_array_equal(users, t_users)
    np.testing.assert_array_equal(items[:, 0], t_items)
    assert items.shape == (len(users), 51)
    seen = _interacted(split)
    assert not any((u, i) in seen for u, row in zip(users, items[:, 1:], strict=True) for i in row.tolist())
    assert all(len(set(row)) == 51 for row in items.tolist())
    assert proto.candidates(split)[1] is items  # cached
    again = SampledCandidates(n_negatives=50, sampler=sampler, seed=3).candidates(split)[1]
    np.testing.assert_array_equal(again, items)  # a new instance with the same seed: same candidates
    other = SampledCandidates(n_negatives=50, sampler=sampler, seed=4).candidates(split)[1]
    assert not np.array_equal(other, items)
    if sampler == "popularity":  # items nobody trained on are never drawn
        assert (split.train.item_counts()[items[:, 1:]] > 0).all()


def test_popularity_sampler_follows_train_counts():
    # 1 user who saw item 0 only; weights 0, 1, 2, ..., 9 -> draw 1 negative many times
    rng = np.random.default_rng(0)
    weights = np.arange(10.0)
    draws = sample_negatives(np.zeros(20000, np.int64), 1, np.array([0]), 10, weights, rng)[:, 0]
    freq = np.bincount(draws, minlength=10) / len(draws)
    np.testing.assert_allclose(freq, weights / weights.sum(), atol=0.01)


def test_sampling_without_replacement_is_sequential_weighted_sampling():
    # weights 1, 1, 8 and 2 negatives: P(the pair {0, 1}) = P(0 then 1) + P(1 then 0) = 2 * (0.1 * 1/9)
    rng = np.random.default_rng(1)
    draws = sample_negatives(np.zeros(30000, np.int64), 2, np.array([], np.int64), 3,
                             np.array([1.0, 1.0, 8.0]), rng)
    share = np.mean((np.sort(draws, axis=1) == [0, 1]).all(axis=1))
    assert share == pytest.approx(2 * 0.1 / 9, abs=0.005)


def test_sampling_heavy_users_and_too_few_negatives():
    # user 0 has seen 95 of 100 items: exactly 5 admissible negatives must all come back
    exclude = np.arange(5, 100, dtype=np.int64)
    out = sample_negatives(np.array([0, 0]), 5, exclude, 100, None, np.random.default_rng(0))
    assert sorted(out[0].tolist()) == [0, 1, 2, 3, 4] == sorted(out[1].tolist())
    with pytest.raises(ConfigError, match="n_negatives=6"):
        sample_negatives(np.array([0]), 6, exclude, 100, None, np.random.default_rng(0))
    # popularity weights leaving user 0 almost no admissible mass: exact per-row fallback, still valid
    weights = np.r_[np.full(5, 1e-12), np.ones(95)]
    out = sample_negatives(np.array([0, 1]), 5, exclude, 100, weights, np.random.default_rng(0))
    assert sorted(out[0].tolist()) == [0, 1, 2, 3, 4]
    assert len(set(out[1].tolist())) == 5 and (out[1] >= 5).all()  # user 1 excludes nothing: heavy items


def test_sampled_oracle_constant_and_antioracle():
    split = random_split()
    proto = SampledCandidates(n_negatives=20)
    users, items = proto.candidates(split)
    target = dict(zip(users.tolist(), items[:, 0].tolist(), strict=True))
    oracle = FnModel(lambda u, i: (i == np.vectorize(target.get)(u)).astype(float)).fit(split.train)
    anti = FnModel(lambda u, i: -(i == np.vectorize(target.get)(u)).astype(float)).fit(split.train)
    r = proto.evaluate(oracle, split, ks=(1, 5)).summary()
    assert r["hr@1"] == 1 and r["ndcg@5"] == 1 and r["auc"] == 1
    r = proto.evaluate(constant_model(split.train), split, ks=(1, 10)).summary()
    # all 21 candidates tie: HR@1 = 1/21 exactly (expected position), never 1; AUC 1/2
    assert r["hr@1"] == pytest.approx(1 / 21) and r["hr@10"] == pytest.approx(10 / 21)
    assert r["auc"] == pytest.approx(0.5)
    r = proto.evaluate(anti, split, ks=(20,)).summary()
    assert r["hr@20"] == 0 and r["auc"] == 0


def test_sampled_hides_the_target_position_from_the_model():
    # a position-biased scorer (prefers whatever is shown first) must get chance level, not HR@1 = 1
    split = random_split()
    first_shown = FnModel(lambda u, i: np.broadcast_to(-np.arange(i.shape[1], dtype=float), i.shape))
    res = SampledCandidates(n_negatives=9).evaluate(first_shown.fit(split.train), split, ks=(1,))
    assert res.summary()["hr@1"] == pytest.approx(0.1, abs=0.05)


def test_sampled_ties_counted_as_expected_position():
    # 10 items, few score levels so targets tie with negatives; every user has >= 5 unseen items
    # (user 3 only makes items 6-9 part of the data: negatives are drawn from items with interactions)
    split = make_split(train=[(0, 0), (0, 1), (1, 2), (2, 0), (3, 6), (3, 7), (3, 8), (3, 9)], valid=[(0, 2), (1, 3)],
                       test=[(0, 3), (0, 4), (1, 5), (2, 1)], n_users=4, n_items=10)
    proto = SampledCandidates(n_negatives=4)
    users, items = proto.candidates(split)
    item_score = np.array([0.0, 1.0, 1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 0.0, 1.0])
    model = FnModel(lambda u, i: item_score[i]).fit(split.train)
    res = proto.evaluate(model, split, ks=(1, 2, 3), metrics=["hr", "mrr", "auc"])
    s = item_score[items]
    higher = (s[:, 1:] > s[:, :1]).sum(1)
    ties = (s[:, 1:] == s[:, :1]).sum(1)
    assert ties.sum() > 0
    # HR@1 = P(position 0) = [higher == 0] / (ties + 1);  auc = (4 - higher - ties/2) / 4
    np.testing.assert_allclose(res.per_user["hr@1"], (higher == 0) / (ties + 1))
    np.testing.assert_allclose(res.per_user["auc"], (4 - higher - ties / 2) / 4)
    # MRR@3 = mean of 1/(j+1) over positions j in [higher, higher + ties] that are < 3
    mrr = [np.mean([1 / (j + 1) if j < 3 else 0 for j in range(h, h + t + 1)])
           for h, t in zip(higher, ties, strict=True)]
    np.testing.assert_allclose(res.per_user["mrr@3"], mrr)
    np.testing.assert_array_equal(res.users, users)


def test_by_user_averages_rows():
    res = ProtocolResult("x", np.array([4, 2, 4]), {"hr@1": np.array([1.0, 0.0, 0.0])}, {}, 0.0)
    agg = res.by_user()
    np.testing.assert_array_equal(agg.users, [2, 4])
    np.testing.assert_allclose(agg.per_user["hr@1"], [0.0, 0.5])


# ---------------------------------------------------------------------------- pointwise
PROBS = [[.9, .8, .7, .6, .2, .3],
         [.5, .5, .5, .5, .5, .4],
         [.1, .5, .5, .5, .5, .5]]


def test_pointwise_explicit_labels_hand_computed(tiny_split):
    # rating >= 4 -> 1.  pairs: (u0,3) r5 -> 1 @ .6; (u0,4) r2 -> 0 @ .2; (u1,5) r4 -> 1 @ .4;
    #                           (u2,0) r1 -> 0 @ .1; (u2,1) r3 -> 0 @ .5
    # global AUC: .6 beats .2 .1 .5 (3); .4 beats .2 .1 (2) -> 5/6
    # per user: u0 .6 > .2 -> 1; u1 and u2 one class -> NaN.  GAUC = u0 only = 1
    # logloss: -(ln .6 + ln .8 + ln .4 + ln .9 + ln .5) / 5
    model = matrix_model(PROBS, tiny_split.train)
    res = Pointwise(label_threshold=4.0).evaluate(model, tiny_split)
    assert res.protocol == "pointwise-rating>=4"
    np.testing.assert_array_equal(res.users, [0, 1, 2])
    assert res.global_metrics["auc"] == pytest.approx(5 / 6)
    assert res.global_metrics["gauc"] == pytest.approx(1.0)
    np.testing.assert_allclose(res.per_user["user_auc"], [1, np.nan, np.nan])
    ll = -np.log([.6, .8, .4, .9, .5])
    assert res.global_metrics["logloss"] == pytest.approx(ll.mean(), rel=1e-6)
    np.testing.assert_allclose(res.per_user["user_logloss"], [ll[:2].mean(), ll[2], ll[3:].mean()], rtol=1e-6)
    assert not set(res.per_user) & set(res.global_metrics)  # each name in one place


def test_pointwise_skips_logloss_for_non_probabilities(tiny_split):
    res = Pointwise(label_threshold=4.0).evaluate(matrix_model(SCORES, tiny_split.train), tiny_split)
    assert "logloss" not in res.global_metrics and "user_logloss" not in res.per_user
    assert any("logloss skipped" in n for n in res.notes)


def test_pointwise_sampled_negatives():
    split = random_split()
    proto = Pointwise(n_negatives=3, seed=1)
    users, items, labels = proto.pairs(split)
    assert len(users) == 4 * len(np.unique(split.test.user)) and labels.sum() == len(users) // 4
    seen = _interacted(split)
    neg = labels == 0
    assert not any((u, i) in seen for u, i in zip(users[neg].tolist(), items[neg].tolist(), strict=True))
    pos_keys = set(zip(users[~neg].tolist(), items[~neg].tolist(), strict=True))
    oracle = FnModel(lambda u, i: np.vectorize(lambda a, b: float((a, b) in pos_keys))(u, i)).fit(split.train)
    r = proto.evaluate(oracle, split).summary()
    assert r["auc"] == 1 and r["gauc"] == 1
    r = proto.evaluate(constant_model(split.train, 0.5), split).summary()
    assert r["auc"] == 0.5 and r["gauc"] == 0.5 and r["logloss"] == pytest.approx(np.log(2))


# ---------------------------------------------------------------------------- configs and errors
def test_protocol_configs_round_trip_through_toml():
    class Run(Config):
        protocols: list[Protocol]

    run = Run(protocols=[FullRanking(), SampledCandidates(n_negatives=50, sampler="popularity"),
                         Pointwise(label_threshold=4.0)])
    back = Run.from_toml(run.to_toml())
    assert [type(p) for p in back.protocols] == [FullRanking, SampledCandidates, Pointwise]
    assert back.protocols[1].n_negatives == 50 and back.protocols[2].label_threshold == 4.0
    assert [p.display for p in back.protocols] == ["full", "sampled-popularity-50", "pointwise-rating>=4"]


def test_make_protocol_from_dicts_and_errors():
    assert isinstance(make_protocol({"kind": "sampled", "n_negatives": 5}), SampledCandidates)
    assert make_protocol({"kind": "full", "label": "F"}).display == "F"
    with pytest.raises(ConfigError):
        make_protocol({"kind": "listwise"})
    with pytest.raises(ConfigError):
        make_protocol({"kind": "full", "n_negatives": 5})  # not a full-ranking parameter


def test_unknown_metric_and_bad_part(tiny_split):
    model = matrix_model(SCORES, tiny_split.train)
    with pytest.raises(ConfigError, match=r"unknown metrics \[.bleu.\]; valid: .*ndcg"):
        FullRanking().evaluate(model, tiny_split, metrics=["ndcg", "bleu"])
    with pytest.raises(ConfigError, match="'train'"):
        FullRanking().evaluate(model, tiny_split, "train")
    with pytest.raises(ConfigError, match="positive"):
        FullRanking().evaluate(model, tiny_split, ks=(0, 5))
    # metrics another protocol computes are skipped, so one list serves every protocol
    res = FullRanking().evaluate(model, tiny_split, ks=(1,), metrics=["HR", "auc"])
    assert list(res.per_user) == ["hr@1"]


# ---------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def ml100k_split():
    try:
        from llm4rec.data import load_dataset
    except ImportError as exc:
        pytest.skip(f"llm4rec.data.load_dataset is not available yet ({exc})")
    from llm4rec.data.split import leave_one_out

    try:
        ds = load_dataset("ml-100k")
    except Exception as exc:  # no network and no cached copy
        pytest.skip(f"ml-100k could not be loaded: {exc}")
    return leave_one_out(ds)


def test_all_protocols_on_movielens_100k(ml100k_split):
    split = ml100k_split
    counts = split.train.item_counts().astype(np.float32)
    pop = FnModel(lambda u, i: counts[i] / counts.max()).fit(split.train)
    pop.set_history(split.known_for("test"))
    const = constant_model(split.train)
    protocols = [FullRanking(), SampledCandidates(n_negatives=100), SampledCandidates(sampler="popularity"),
                 Pointwise(), Pointwise(label_threshold=4.0)]
    res = {p.display: p.evaluate(pop, split).summary() for p in protocols}
    base = {p.display: p.evaluate(const, split).summary() for p in protocols}
    n_users = len(np.unique(split.test.user))
    assert n_users > 900
    # popularity is a strong baseline on ML-100K: well above chance everywhere except pop-sampled negatives
    assert res["full"]["hr@10"] > 3 * base["full"]["hr@10"]
    assert res["sampled-uniform-100"]["hr@10"] > res["full"]["hr@10"]
    assert res["sampled-uniform-100"]["auc"] > 0.75
    assert base["sampled-uniform-100"]["hr@5"] == pytest.approx(5 / 101)
    assert res["sampled-popularity-100"]["auc"] < res["sampled-uniform-100"]["auc"]
    print({k: {m: round(v, 4) for m, v in r.items() if m.endswith("@10") or "auc" in m}
           for k, r in res.items()})
    assert res["pointwise-uniform-1"]["auc"] > 0.75 and base["pointwise-uniform-1"]["auc"] == 0.5
    assert 0.0 < res["pointwise-rating>=4"]["auc"] < 1.0
