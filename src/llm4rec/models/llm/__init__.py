"""Paradigm 3, LLM as recommender: prompting-based and tuned rankers on the Recommender contract.

| name | what it does | module |
|---|---|---|
| ``llm-likelihood`` | log p(candidate text given the history prompt), shared KV prefix | :mod:`.scoring` |
| ``llm-pointwise`` | P(Yes) to "would I enjoy X?" (or the expected 1-5 rating) | :mod:`.scoring` |
| ``llm-pairwise`` | A-or-B preferences in both orders, budgeted sorting | :mod:`.pairwise` |
| ``llm-listwise`` | generated ranking, parsed and grounded; sliding windows; K orders | :mod:`.listwise` |
| ``llm-rerank`` | any retriever's top N reordered by an LLM ranker (LlamaRec) | :mod:`.rerank` |
| ``llm-query`` | LLM-written query, encoder retrieval (MINT) | :mod:`.query` |
| ``llm-tallrec`` | tuned (LoRA / prompt / full) yes/no instruction, P(Yes) (TALLRec) | :mod:`.tallrec` |
| ``llm-llamarec`` | tuned LLM picks the next item among a retriever's top N by letter (LlamaRec) | :mod:`.llamarec` |
| ``llm-llara`` | as llm-llamarec with projected ID item tokens beside titles (LLaRA) | :mod:`.llara` |

Explanations (:mod:`.explain`) and conversation (:mod:`.chat`) build on the same rankers; their
CLI commands live in :mod:`llm4rec.cli.llm`. See ``docs/llm.md``.
"""
