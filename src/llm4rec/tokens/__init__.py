"""Paradigm 2 (LLM tokens + RS) without the models: what a generator is shown per item / user
(:mod:`~llm4rec.tokens.inputs`, with KAR's leakage rule), how its outputs are stored
(:mod:`~llm4rec.tokens.store`) and checked (:mod:`~llm4rec.tokens.qc`). The batch job that writes
them is :mod:`llm4rec.jobs.generate`; the CTR models that read them are in ``llm4rec.models.tokens``."""

from llm4rec.tokens.inputs import Inputs, item_inputs, profile_rows, user_inputs
from llm4rec.tokens.qc import QCConfig, QCReport, apply_policy, check, check_frame, report
from llm4rec.tokens.store import read_outputs, resolve_outputs

__all__ = ["Inputs", "QCConfig", "QCReport", "apply_policy", "check", "check_frame", "item_inputs", "profile_rows",
           "read_outputs", "report", "resolve_outputs", "user_inputs"]
