"""Fine-tune a Hugging Face encoder end to end as a two-tower model with in-batch negatives.

Query tower and document tower share the encoder (U-BERT / UserBERT style: a
user's history text vs an item's text). The loss is the softmax cross-entropy of
each query against every document of its batch (the other documents are the
negatives); a document repeated in a batch is not counted as a negative of the
queries it also belongs to.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm


@dataclass
class ContrastiveLog:
    """What one fine-tuning run did and cost."""

    epochs: int = 0
    steps: int = 0
    pairs: int = 0
    seconds: float = 0.0
    params_trained: int = 0
    losses: list[float] = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / max(1, self.epochs)


def mean_pool(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """Attention-masked mean of the last hidden states (the pooling of all-MiniLM-L6-v2), with gradients."""
    enc = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    enc = enc.to(next(model.parameters()).device)
    hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def finetune_two_tower(model: Any, tokenizer: Any, queries: Sequence[str], docs: Sequence[str],
                       doc_ids: np.ndarray, *, query_max_length: int, doc_max_length: int, batch_size: int,
                       lr: float, epochs: int, temperature: float, seed: int, progress: bool = False
                       ) -> ContrastiveLog:
    """Train ``model`` in place on aligned (query, doc) pairs; ``doc_ids`` marks identical documents."""
    log = ContrastiveLog(pairs=len(queries), epochs=epochs)
    params = [p for p in model.parameters() if p.requires_grad]
    log.params_trained = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=lr)
    rng = np.random.default_rng(seed)
    doc_ids = np.asarray(doc_ids)
    start = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(queries))
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        for idx in tqdm(batches, desc=f"two-tower epoch {epoch + 1}", leave=False, disable=not progress):
            q = F.normalize(mean_pool(model, tokenizer, [queries[i] for i in idx], query_max_length), dim=-1)
            d = F.normalize(mean_pool(model, tokenizer, [docs[i] for i in idx], doc_max_length), dim=-1)
            logits = q @ d.T / temperature
            same = torch.from_numpy(doc_ids[idx][:, None] == doc_ids[idx][None, :])
            logits = logits.masked_fill(same & ~torch.eye(len(idx), dtype=torch.bool), float("-inf"))
            loss = F.cross_entropy(logits, torch.arange(len(idx)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            log.steps += 1
            log.losses.append(float(loss.item()))
    model.eval()
    log.seconds = time.perf_counter() - start
    return log
