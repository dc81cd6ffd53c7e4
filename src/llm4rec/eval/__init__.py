"""Evaluation: protocols on one split, metrics, confidence intervals, runs and their reports.

The public face; the modules behind it:

- :mod:`.protocols` (one module per protocol: ``full``, ``sampled``, ``pointwise``)
- :mod:`.sampling` (negative candidates), :mod:`.metrics`, :mod:`.stats`
- :mod:`.results` (``ProtocolResult``, ``Record``, ``RunResult``)
- :mod:`.config` (the run TOML), :mod:`.runner` (execute it), :mod:`.report` (tables, Markdown, plot)
- :mod:`.validation` (validation scores handed to a model's ``fit`` for early stopping)
"""

from llm4rec.eval.config import RunConfig, load_run_config
from llm4rec.eval.protocols import (
    EvalProtocol,
    FullRanking,
    Pointwise,
    Protocol,
    SampledCandidates,
    make_protocol,
    targets,
)
from llm4rec.eval.report import print_tables
from llm4rec.eval.results import ProtocolResult, Record, RunResult
from llm4rec.eval.runner import evaluate_model, run
from llm4rec.eval.sampling import sample_negatives
from llm4rec.eval.stats import bootstrap_ci, paired_test
from llm4rec.eval.validation import auc_validator, early_stopping, fit_options, ndcg_validator

__all__ = ["EvalProtocol", "FullRanking", "Pointwise", "Protocol", "ProtocolResult", "Record", "RunConfig",
           "RunResult", "SampledCandidates", "auc_validator", "bootstrap_ci", "early_stopping", "evaluate_model",
           "fit_options", "load_run_config",
           "make_protocol", "ndcg_validator", "paired_test", "print_tables", "run", "sample_negatives", "targets"]
