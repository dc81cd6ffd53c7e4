"""Batch jobs that scale out on Ray (optional extra ``ray``): catalog encoding, LLM candidate scoring and
sharded evaluation. The same code runs on a local cluster (``ray.init(num_cpus=2)``) or a remote one
(``init(address="ray://host:10001")``)."""

from llm4rec.jobs.ray_jobs import ShardedProtocol, encode_texts, evaluate_sharded, init, score_candidates

__all__ = ["ShardedProtocol", "encode_texts", "evaluate_sharded", "init", "score_candidates"]
