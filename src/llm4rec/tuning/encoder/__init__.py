"""Tuning a discriminative (BERT-family) encoder for recommendation.

* :mod:`.contrastive` -- end-to-end two-tower fine-tuning with in-batch negatives (U-BERT / UserBERT);
* :mod:`.prompt` -- prompt tuning of a frozen encoder for pointwise scoring (Prompt4NR).
"""

from llm4rec.tuning.encoder.contrastive import ContrastiveLog, finetune_two_tower, mean_pool
from llm4rec.tuning.encoder.prompt import PromptScorer, train_pointwise

__all__ = ["ContrastiveLog", "PromptScorer", "finetune_two_tower", "mean_pool", "train_pointwise"]
