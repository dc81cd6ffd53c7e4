"""Generative recommendation: items as token sequences, a trie for valid decoding, leakage checks."""

from llm4rec.models.generative.leakage import LeakageReport, leakage_check
from llm4rec.models.generative.tokenizers import ITEM_TOKENIZERS, ItemTokenizer, make_tokenizer

__all__ = ["ITEM_TOKENIZERS", "ItemTokenizer", "LeakageReport", "leakage_check", "make_tokenizer"]
