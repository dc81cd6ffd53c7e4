"""Prompt tuning (and, for comparison, fine-tuning) of a BERT-family encoder for pointwise
"will the user like this item" scoring.

:class:`PromptScorer` reads a prompt text and returns a relevance logit from a linear head on the
mean-pooled output. What it trains:

* ``soft``: ``n_prompts`` continuous prompt vectors inserted after ``[CLS]``
  (Lester et al. 2021 / P-tuning) plus the head; the encoder is frozen;
* ``hard``: nothing but the head -- the instruction is a fixed text template
  (Prompt4NR's discrete-template variant; MiniLM ships no MLM head, so a
  classification head stands in for the ``[MASK]`` verbaliser); frozen encoder;
* ``finetune``: the same hard template, with a private copy of the encoder trained
  end to end (at ``encoder_lr``) together with the head.

:func:`train_pointwise` fits it with binary cross-entropy on labelled pairs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm


class PromptScorer(nn.Module):
    """Logit of "relevant" for input texts: soft or hard prompts on a frozen encoder, or a fine-tuned copy."""

    def __init__(self, encoder: Any, tokenizer: Any, mode: Literal["soft", "hard", "finetune"], n_prompts: int,
                 max_length: int) -> None:
        super().__init__()
        self.tokenizer, self.mode, self.max_length = tokenizer, mode, max_length
        if mode == "finetune":  # a private copy (the shared encoder stays untouched): trained and saved
            self.tuned_encoder = copy.deepcopy(encoder)
            self.tuned_encoder.requires_grad_(True)
            encoder = self.tuned_encoder
        else:
            encoder.requires_grad_(False)
        self._encoder = [encoder]  # a list: a frozen encoder is not a submodule (not saved, not trained)
        hidden = encoder.config.hidden_size
        self.prompts = nn.Parameter(torch.empty(n_prompts if mode == "soft" else 0, hidden))
        if mode == "soft":  # initialise from the embeddings of random vocabulary tokens
            table = encoder.get_input_embeddings().weight
            ids = torch.randint(1000, table.shape[0], (n_prompts,))
            self.prompts.data.copy_(table[ids].detach())
        self.head = nn.Linear(hidden, 1)

    @property
    def encoder(self) -> Any:
        return self._encoder[0]

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        emb = self.encoder.get_input_embeddings()(enc["input_ids"])
        mask = enc["attention_mask"]
        if len(self.prompts):
            b = emb.shape[0]
            emb = torch.cat([emb[:, :1], self.prompts.expand(b, -1, -1), emb[:, 1:]], dim=1)
            mask = torch.cat([mask[:, :1], mask.new_ones(b, len(self.prompts)), mask[:, 1:]], dim=1)
        hidden = self.encoder(inputs_embeds=emb, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.head(pooled).squeeze(-1)

    def n_trainable(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def train_pointwise(scorer: PromptScorer, texts: Sequence[str], labels: np.ndarray, *, batch_size: int, lr: float,
                    epochs: int, seed: int, progress: bool = False, encoder_lr: float = 3e-5) -> dict[str, float]:
    """Binary cross-entropy over ``(text, label)`` pairs; returns cost and the last losses.

    ``lr`` trains the prompts and the head, ``encoder_lr`` a fine-tuned encoder.
    """
    own = [p for n, p in scorer.named_parameters() if p.requires_grad and not n.startswith("tuned_encoder.")]
    groups = [{"params": own, "lr": lr}]
    if scorer.mode == "finetune":
        groups.append({"params": list(scorer.tuned_encoder.parameters()), "lr": encoder_lr})
    opt = torch.optim.AdamW(groups)
    rng = np.random.default_rng(seed)
    y = torch.as_tensor(np.asarray(labels, dtype=np.float32))
    losses, steps, start = [], 0, time.perf_counter()
    scorer.train()
    if scorer.mode != "finetune":
        scorer.encoder.eval()  # frozen: no dropout noise in the encoder either
    for epoch in range(epochs):
        order = rng.permutation(len(texts))
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        for idx in tqdm(batches, desc=f"prompt tuning epoch {epoch + 1}", leave=False, disable=not progress):
            loss = F.binary_cross_entropy_with_logits(scorer([texts[i] for i in idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
            steps += 1
    scorer.eval()
    seconds = time.perf_counter() - start
    return {"params_trained": float(scorer.n_trainable()), "finetune_seconds": seconds,
            "seconds_per_epoch": seconds / max(1, epochs), "steps": float(steps),
            "pairs": float(len(texts)), "final_loss": float(np.mean(losses[-10:])) if losses else float("nan")}
