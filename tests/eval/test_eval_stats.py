"""Bootstrap confidence intervals and paired tests."""

from __future__ import annotations

import numpy as np
import pytest

from llm4rec.eval import stats
from llm4rec.eval.stats import bootstrap_ci, paired_bootstrap, paired_test


def test_bootstrap_ci_contains_the_mean_and_matches_the_normal_approximation():
    x = np.random.default_rng(0).normal(0.3, 1.0, 2000)
    mean, low, high = bootstrap_ci(x, n_boot=2000, seed=0)
    assert mean == pytest.approx(x.mean())
    assert low < mean < high
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))  # ~0.044
    assert (high - low) / 2 == pytest.approx(half, rel=0.15)


def test_bootstrap_ci_shrinks_with_n():
    rng = np.random.default_rng(1)
    widths = []
    for n in (50, 500, 5000):
        _, low, high = bootstrap_ci(rng.random(n), seed=0)
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]


def test_bootstrap_ci_is_deterministic_for_a_seed():
    x = np.random.default_rng(2).random(300)
    assert bootstrap_ci(x, seed=5) == bootstrap_ci(x, seed=5)
    assert bootstrap_ci(x, seed=5) != bootstrap_ci(x, seed=6)


def test_bootstrap_ci_chunking_does_not_change_the_statistics(monkeypatch):
    x = np.random.default_rng(3).random(1000)
    full = bootstrap_ci(x, n_boot=4000, seed=0)
    monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 5000)  # 5 resamples per chunk
    chunked = bootstrap_ci(x, n_boot=4000, seed=0)
    assert chunked[0] == full[0]
    assert chunked[1] == pytest.approx(full[1], abs=0.005)
    assert chunked[2] == pytest.approx(full[2], abs=0.005)


def test_bootstrap_ci_edge_cases():
    x = np.array([1.0, np.nan, 3.0])
    assert bootstrap_ci(x, n_boot=0) == (2.0, 2.0, 2.0)  # NaN dropped, no resampling
    assert all(np.isnan(bootstrap_ci(np.array([np.nan]))))
    assert bootstrap_ci(np.full(10, 0.5)) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        bootstrap_ci(np.arange(5.0), alpha=1.5)


def test_paired_test_identical_arrays_give_p_one():
    x = np.random.default_rng(0).random(500)
    for method in ("permutation", "bootstrap", "wilcoxon"):
        r = paired_test(x, x.copy(), method=method)
        assert r.p_value == 1.0 and r.diff == 0.0 and r.low == 0.0 and r.high == 0.0
        assert r.n == 500 and r.method == method


def test_paired_test_detects_a_clear_shift():
    rng = np.random.default_rng(1)
    b = rng.random(400)
    a = b + 0.05 + rng.normal(0, 0.1, 400)  # +0.05 on average, noisy per user
    for method in ("permutation", "bootstrap", "wilcoxon"):
        r = paired_test(a, b, n_boot=2000, method=method)
        assert r.p_value < 0.01, method
        assert r.diff == pytest.approx((a - b).mean())
        assert 0 < r.low < r.diff < r.high
    # the other direction: same p, negated interval
    r_ab, r_ba = paired_test(a, b), paired_test(b, a)
    assert r_ba.diff == pytest.approx(-r_ab.diff)
    assert r_ba.p_value == pytest.approx(r_ab.p_value, abs=0.01)


def test_paired_test_no_difference_is_not_significant():
    rng = np.random.default_rng(2)
    a, b = rng.random(300), rng.random(300)
    r = paired_test(a, b, n_boot=2000)
    assert r.p_value > 0.05
    assert r.low < 0 < r.high


def test_paired_test_pairs_and_nans():
    a = np.array([0.5, np.nan, 0.7, 0.9])
    b = np.array([0.4, 0.3, np.nan, 0.8])
    r = paired_test(a, b, n_boot=200)
    assert r.n == 2 and r.diff == pytest.approx(0.1)
    with pytest.raises(ValueError, match="same users"):
        paired_test(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="unknown method"):
        paired_test(np.ones(3), np.zeros(3), method="t-test")


def test_paired_bootstrap_is_paired_test_with_bootstrap_p():
    rng = np.random.default_rng(4)
    a, b = rng.random(100), rng.random(100)
    assert paired_bootstrap(a, b, seed=3) == paired_test(a, b, seed=3, method="bootstrap")
