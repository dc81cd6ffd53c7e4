"""Ray jobs on a local cluster (ray.init(num_cpus=2)) give the single-process numbers."""

from __future__ import annotations

import importlib.util
from dataclasses import asdict

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (extra 'ray')")


@pytest.fixture(scope="module")
def cluster():
    from llm4rec.jobs import init

    init(num_cpus=2)
    yield
    ray.shutdown()


def test_catalog_encoding_on_an_actor_pool(cluster, ml100k):
    from llm4rec.jobs import encode_texts
    from llm4rec.lm.config import make_encoder

    spec = {"backend": "wordllama", "cache_mode": "off"}
    texts = ml100k.catalog.text()
    got = encode_texts(texts, spec, workers=2, batch_size=300)
    assert got.shape == (len(texts), 256)
    np.testing.assert_allclose(got, make_encoder(spec).encode(texts), rtol=1e-5, atol=1e-6)


def test_llm_candidate_scoring_on_an_actor_pool(cluster, ml100k):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    from llm4rec.jobs import score_candidates
    from llm4rec.models import make_model

    gen = {"backend": "llama-cpp", "model": "smollm2-135m", "n_ctx": 1024, "n_threads": 1, "cache_mode": "off"}
    model = make_model("llm-likelihood", {"generator": gen, "progress": False, "max_history": 5})
    model.fit(ml100k.interactions)
    rng = np.random.default_rng(0)
    users = rng.choice(ml100k.n_users, 4, replace=False)
    cands = rng.choice(ml100k.n_items, (4, 4))
    got = score_candidates(model, users, cands, workers=2, batch_size=2)
    np.testing.assert_allclose(got, model.score(users, cands), rtol=1e-4, atol=1e-3)
    assert np.all(np.isfinite(got)) and len(np.unique(got)) > 1


def test_sharded_evaluation_gives_the_same_records(cluster, small_split):
    from llm4rec.eval.config import EvalSpec, ModelSpec, RunConfig
    from llm4rec.eval.protocols import FullRanking, SampledCandidates
    from llm4rec.eval.runner import evaluate_model
    from llm4rec.jobs import ShardedProtocol
    from llm4rec.models import make_model

    cfg = RunConfig(models=[ModelSpec(name="itemknn")],
                    eval=EvalSpec(ks=[5, 10], metrics=["hr", "ndcg", "mrr", "popularity"], bootstrap=200))
    model = make_model("itemknn").fit(small_split.train, small_split.valid)
    protocols = [FullRanking(), SampledCandidates(n_negatives=50)]
    single, per_single = evaluate_model(model, "itemknn", small_split, protocols, cfg)
    sharded, per_sharded = evaluate_model(model, "itemknn", small_split,
                                          [ShardedProtocol(p, shards=3) for p in protocols], cfg)
    def strip(records):
        return [asdict(r) for r in records if not r.metric.startswith("eval_seconds")]
    for a, b in zip(strip(sharded), strip(single), strict=True):
        assert a == b
    assert len(strip(single)) == 14  # full: 3 metrics x 2 ks + popularity x 2; sampled: 3 x 2
    assert per_sharded.keys() == per_single.keys()
    for k in per_single:
        np.testing.assert_array_equal(per_sharded[k], per_single[k])


def test_sharded_evaluation_reports_per_shard_costs(cluster, small_split):
    from llm4rec.eval.protocols import FullRanking
    from llm4rec.jobs import evaluate_sharded
    from llm4rec.models import make_model

    model = make_model("pop").fit(small_split.train)
    model.set_history(small_split.known_for("test"))
    costs: list[dict[str, float]] = []
    result = evaluate_sharded(FullRanking(), model, small_split, ks=(10,), metrics=("ndcg",), shards=3, costs=costs)
    assert len(costs) == 3 and sum(c["users"] for c in costs) == len(result.users)
    for c in costs:
        assert c["seconds"] > 0 and c["cpu_seconds"] >= 0 and c["rss_peak_mb"] >= c["rss_start_mb"] > 0


def test_global_metrics_are_not_sharded(cluster, small_split):
    from llm4rec.errors import ConfigError
    from llm4rec.eval.protocols import FullRanking
    from llm4rec.jobs import evaluate_sharded
    from llm4rec.models import make_model

    model = make_model("pop").fit(small_split.train)
    with pytest.raises(ConfigError, match="coverage"):
        evaluate_sharded(FullRanking(), model, small_split, metrics=("ndcg", "coverage"))
