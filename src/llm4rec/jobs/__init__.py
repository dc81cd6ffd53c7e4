"""Batch jobs: LLM text generation per item / user (paradigm 2, :mod:`llm4rec.jobs.generate`, local or on
Ray Data) and Ray jobs that scale out catalog encoding, LLM candidate scoring and sharded evaluation. The
same code runs on a local cluster (``ray.init(num_cpus=2)``) or a remote one
(``init(address="ray://host:10001")``)."""

from llm4rec.jobs.generate import GenerateConfig, GenerationResult, TaskSpec, generate, load_generate_config, run_task
from llm4rec.jobs.ray_jobs import ShardedProtocol, encode_texts, evaluate_sharded, init, score_candidates

__all__ = ["GenerateConfig", "GenerationResult", "ShardedProtocol", "TaskSpec", "encode_texts", "evaluate_sharded",
           "generate", "init", "load_generate_config", "run_task", "score_candidates"]
