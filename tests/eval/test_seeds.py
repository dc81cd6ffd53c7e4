"""Statistics across seeds (mean, spread, paired comparison over seeds)."""

from __future__ import annotations

import numpy as np
from scipy.stats import ttest_rel

from llm4rec.eval.seeds import compare_across_seeds, seed_spread


def test_seed_spread_is_mean_and_sample_sd():
    sp = seed_spread([0.25, 0.11, 0.2, float("nan")])
    assert sp.n == 3 and np.isclose(sp.mean, np.mean([0.25, 0.11, 0.2]))
    assert np.isclose(sp.std, np.std([0.25, 0.11, 0.2], ddof=1)) and (sp.low, sp.high) == (0.11, 0.25)
    assert np.isnan(seed_spread([0.3]).std) and seed_spread([]).n == 0


def test_compare_across_seeds_matches_a_paired_t_test():
    rng = np.random.default_rng(0)
    a, b = rng.random(5), rng.random(5)
    c = compare_across_seeds(a, b)
    assert np.isclose(c.p_value, ttest_rel(a, b).pvalue)
    assert np.isclose(c.diff, np.mean(a - b)) and c.wins == int(np.sum(a > b)) and c.n == 5
    # the cold-item case: a ranking that flips between seeds is no conclusion
    flip = compare_across_seeds([0.2525, 0.110, 0.15], [0.1964, 0.131, 0.14])
    assert flip.wins == 2 and flip.p_value > 0.5
    assert compare_across_seeds([0.25, 0.5], [0.125, 0.375]).p_value == 0.0  # constant difference
