"""Every metric against hand computations (worked out in the comments)."""

from __future__ import annotations

import numpy as np
import pytest

from llm4rec.eval import metrics as M

L2, L3, L4, L5, L6 = (np.log2(x) for x in (2, 3, 4, 5, 6))  # log2(1 + position)

# three users, ranked lists of 5 (1 = relevant)
HITS = np.array([[1, 0, 1, 0, 0],   # A: 3 relevant in total
                 [0, 0, 0, 1, 0],   # B: 1 relevant
                 [0, 1, 1, 1, 1]],  # C: 6 relevant (more than the list holds)
                dtype=bool)
N_REL = np.array([3, 1, 6])


def test_ranking_metrics_hand_computed():
    r = M.ranking_metrics(HITS, N_REL, ks=(3, 5))
    # HR: any hit. @3: A yes, B no (its hit is at 4), C yes.  @5: all yes
    np.testing.assert_allclose(r["hr@3"], [1, 0, 1])
    np.testing.assert_allclose(r["hr@5"], [1, 1, 1])
    # Recall = hits / n_relevant.  @3: A 2/3, B 0/1, C 2/6.  @5: A 2/3, B 1/1, C 4/6
    np.testing.assert_allclose(r["recall@3"], [2 / 3, 0, 2 / 6])
    np.testing.assert_allclose(r["recall@5"], [2 / 3, 1, 4 / 6])
    # Precision = hits / k.  @3: 2/3, 0, 2/3.  @5: 2/5, 1/5, 4/5
    np.testing.assert_allclose(r["precision@3"], [2 / 3, 0, 2 / 3])
    np.testing.assert_allclose(r["precision@5"], [2 / 5, 1 / 5, 4 / 5])
    # NDCG. A@3: DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG over min(3,3)=3 items = 1 + 1/log2(3) + 1/log2(4)
    idcg3 = 1 / L2 + 1 / L3 + 1 / L4
    idcg5 = idcg3 + 1 / L5 + 1 / L6
    a = (1 / L2 + 1 / L4) / idcg3          # A@5 the same: no more hits, IDCG still over 3 items
    b5 = (1 / L5) / (1 / L2)               # B@5: one hit at 4, IDCG of one item = 1
    c3 = (1 / L3 + 1 / L4) / idcg3         # C@3: hits at 2, 3; IDCG over min(6,3)=3
    c5 = (1 / L3 + 1 / L4 + 1 / L5 + 1 / L6) / idcg5  # C@5: hits at 2..5; IDCG over min(6,5)=5
    np.testing.assert_allclose(r["ndcg@3"], [a, 0, c3])
    np.testing.assert_allclose(r["ndcg@5"], [a, b5, c5])
    np.testing.assert_allclose(r["ndcg@3"], [0.703918, 0, 0.530721], atol=1e-6)
    # MRR: 1 / first hit position. A: 1; B: 1/4 (only within @5); C: 1/2
    np.testing.assert_allclose(r["mrr@3"], [1, 0, 1 / 2])
    np.testing.assert_allclose(r["mrr@5"], [1, 1 / 4, 1 / 2])
    # MAP: sum of precision@j at hit positions / min(n_rel, k)
    # A@3 = (P@1 + P@3) / 3 = (1 + 2/3) / 3;  A@5 the same (min(3,5)=3)
    # B@5 = P@4 / 1 = 1/4
    # C@3 = (P@2 + P@3) / min(6,3) = (1/2 + 2/3) / 3;  C@5 = (1/2 + 2/3 + 3/4 + 4/5) / 5
    np.testing.assert_allclose(r["map@3"], [(1 + 2 / 3) / 3, 0, (1 / 2 + 2 / 3) / 3])
    np.testing.assert_allclose(r["map@5"], [(1 + 2 / 3) / 3, 1 / 4, (1 / 2 + 2 / 3 + 3 / 4 + 4 / 5) / 5])


def test_single_metric_request_and_key_names():
    r = M.ranking_metrics(HITS, N_REL, ks=(1,), metrics=("ndcg",))
    assert list(r) == ["ndcg@1"]
    np.testing.assert_allclose(r["ndcg@1"], [1, 0, 0])


def test_short_lists_count_missing_positions_as_misses():
    # a 2-item list evaluated @5: A' = [1, 1] with 2 relevant -> precision 2/5, recall 1, ndcg 1
    r = M.ranking_metrics(np.array([[1, 1]], bool), np.array([2]), ks=(5,))
    assert r["precision@5"][0] == pytest.approx(2 / 5)
    assert r["recall@5"][0] == pytest.approx(1)
    assert r["ndcg@5"][0] == pytest.approx(1)
    assert r["map@5"][0] == pytest.approx(1)


def test_ranking_metrics_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one relevant"):
        M.ranking_metrics(HITS, np.array([3, 0, 6]))
    with pytest.raises(ValueError, match="more hits"):
        M.ranking_metrics(HITS, np.array([1, 1, 6]))
    with pytest.raises(ValueError, match="unknown ranking metrics"):
        M.ranking_metrics(HITS, N_REL, metrics=("nope",))
    with pytest.raises(ValueError, match="positive"):
        M.ranking_metrics(HITS, N_REL, ks=(0,))


def test_expected_single_target_metrics_hand_computed():
    # row 0: beaten by none, no ties -> position 1
    # row 1: beaten by 2 -> position 3
    # row 2: beaten by none, tied with 3 -> uniform over positions 1..4 (prob 1/4 each)
    r = M.expected_single_target_metrics(np.array([0, 2, 0]), np.array([0, 0, 3]), ks=(1, 2, 3, 5))
    np.testing.assert_allclose(r["hr@1"], [1, 0, 1 / 4])
    np.testing.assert_allclose(r["hr@2"], [1, 0, 1 / 2])
    np.testing.assert_allclose(r["hr@3"], [1, 1, 3 / 4])
    np.testing.assert_allclose(r["hr@5"], [1, 1, 1])
    np.testing.assert_allclose(r["recall@3"], r["hr@3"])
    np.testing.assert_allclose(r["precision@3"], [1 / 3, 1 / 3, 1 / 4])
    # NDCG row 1 @3 = 1/log2(4) = 0.5; row 2 @5 = (1 + 1/log2 3 + 1/log2 4 + 1/log2 5) / 4
    np.testing.assert_allclose(r["ndcg@3"], [1, 0.5, (1 + 1 / L3 + 1 / L4) / 4])
    np.testing.assert_allclose(r["ndcg@5"], [1, 0.5, (1 + 1 / L3 + 1 / L4 + 1 / L5) / 4])
    # MRR = MAP for one relevant item: row 1 @3 = 1/3; row 2 @5 = (1 + 1/2 + 1/3 + 1/4) / 4
    np.testing.assert_allclose(r["mrr@5"], [1, 1 / 3, (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4])
    np.testing.assert_allclose(r["map@5"], r["mrr@5"])


def test_expected_metrics_equal_one_hot_hits_without_ties():
    rng = np.random.default_rng(0)
    pos = rng.integers(0, 30, 200)  # 0-based target positions, some beyond K
    hits = np.zeros((200, 20), bool)
    inside = pos < 20
    hits[np.flatnonzero(inside), pos[inside]] = True
    ks = (1, 5, 10, 20)
    exact = M.ranking_metrics(hits, np.ones(200), ks)
    expected = M.expected_single_target_metrics(pos, np.zeros(200), ks)
    for key in exact:
        np.testing.assert_allclose(expected[key], exact[key], err_msg=key)


def test_expected_metrics_match_random_tie_breaking_simulation():
    # target beaten by 3, tied with 4: average ranking_metrics over many random tie orders
    rng = np.random.default_rng(1)
    n_sim = 20000
    pos = 3 + rng.integers(0, 5, n_sim)
    hits = np.zeros((n_sim, 10), bool)
    hits[np.arange(n_sim), pos] = True
    sim = M.ranking_metrics(hits, np.ones(n_sim), ks=(4, 6, 10))
    exp = M.expected_single_target_metrics(np.array([3]), np.array([4]), ks=(4, 6, 10))
    for key in sim:
        assert exp[key][0] == pytest.approx(sim[key].mean(), abs=0.01), key


def test_constant_scores_give_chance_level_not_a_perfect_score():
    # 100 negatives all tied with the target: HR@1 = 1/101, HR@10 = 10/101
    r = M.expected_single_target_metrics(np.array([0]), np.array([100]), ks=(1, 10))
    assert r["hr@1"][0] == pytest.approx(1 / 101)
    assert r["hr@10"][0] == pytest.approx(10 / 101)


def test_auc_with_ties():
    # positives 0.9, 0.4; negatives 0.1, 0.4. Pairs: 0.9>0.1, 0.9>0.4, 0.4>0.1, 0.4=0.4 (1/2) -> 3.5/4
    assert M.auc([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.4]) == pytest.approx(0.875)
    assert M.auc([1, 0, 1, 0], [0.3] * 4) == pytest.approx(0.5)  # all tied -> 1/2
    assert M.auc([0, 1], [0.9, 0.1]) == pytest.approx(0.0)
    assert np.isnan(M.auc([1, 1], [0.2, 0.3]))  # one class


def test_group_auc_and_gauc():
    # user 7: labels 1,0,0 scores .2,.5,.1 -> pos .2 loses to .5, beats .1 -> 1/2 (3 labels)
    # user 3: labels 1,1,0,0 scores .8,.3,.3,.1 -> .8>.3, .8>.1, .3=.3 (1/2), .3>.1 -> 3.5/4 (4 labels)
    # user 5: one label only -> no AUC, left out of GAUC
    # GAUC = (3 * 0.5 + 4 * 0.875) / (3 + 4) = 5/7
    groups = np.array([7, 3, 7, 5, 3, 3, 7, 3])
    labels = np.array([1, 1, 0, 1, 1, 0, 0, 0])
    scores = np.array([.2, .8, .5, .9, .3, .3, .1, .1])
    ids, aucs, sizes = M.group_auc(groups, labels, scores)
    np.testing.assert_array_equal(ids, [3, 5, 7])
    np.testing.assert_allclose(aucs, [0.875, np.nan, 0.5])
    np.testing.assert_array_equal(sizes, [4, 1, 3])
    assert M.gauc(groups, labels, scores) == pytest.approx(5 / 7)


def test_group_auc_matches_auc_per_group_with_many_ties():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 20, 2000)
    labels = rng.integers(0, 2, 2000)
    scores = rng.integers(0, 5, 2000).astype(float)  # heavy ties
    ids, aucs, _ = M.group_auc(groups, labels, scores)
    for g, a in zip(ids, aucs, strict=True):
        sel = groups == g
        assert a == pytest.approx(M.auc(labels[sel], scores[sel]))


def test_logloss():
    # -ln(0.8) for a positive at 0.8 and a negative at 0.2
    np.testing.assert_allclose(M.logloss([1, 0], [0.8, 0.2]), [-np.log(0.8)] * 2)
    # certain and right: ~0 (clipped, finite); certain and wrong: -ln(1e-7)
    np.testing.assert_allclose(M.logloss([1, 0], [1.0, 1.0]), [-np.log1p(-1e-7), -np.log(1e-7)])
    assert M.is_probability(np.array([0.0, 0.5, 1.0]))
    assert not M.is_probability(np.array([0.5, 1.5]))
    assert not M.is_probability(np.array([0.5, np.nan]))


def test_coverage():
    # k=2: items {0, 1, 2, 3} of 10 -> 0.4; k=1: {0, 1} (the third list's first slot is empty) -> 0.2
    top = np.array([[0, 1], [1, 2], [-1, 3]])
    assert M.coverage(top, 10, 2) == pytest.approx(0.4)
    assert M.coverage(top, 10, 1) == pytest.approx(0.2)


def test_average_popularity():
    # counts: item0 10, item1 0, item2 4, item3 6
    # k=2: user0 (10 + 4) / 2 = 7; user1 only item 3 -> 6.  k=1: 10, 6
    counts = np.array([10, 0, 4, 6])
    top = np.array([[0, 2], [3, -1]])
    np.testing.assert_allclose(M.average_popularity(top, counts, 2), [7, 6])
    np.testing.assert_allclose(M.average_popularity(top, counts, 1), [10, 6])
