"""Torch building blocks that turn frozen text embeddings into trainable item vectors.

:class:`ItemTable` behaves like an ``nn.Embedding`` (``table(ids)`` and
``table.weight``) but each row is ``transform(text[i])``, ``ids[i]`` or their
sum. That lets the classic models' code (BPR-MF's loss, SASRec's transformer
and tied output layer) run unchanged on text-based items.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class ItemTable(nn.Module):
    """Item vectors from a frozen text matrix through ``transform``, an ID embedding, or both (summed).

    ``pad``: row 0 is a padding row that is always the zero vector (the
    sequential models shift item ids by one). ``id_dropout``: in training, each
    forward pass drops the ID part of that share of the items (text only), so the
    text part alone must rank well too -- what an item without a trained ID (a cold
    item) relies on (DropoutNet, Volkovs et al. 2017). The text matrix is a
    non-persistent buffer: the models persist it once, outside the state dict.
    """

    def __init__(self, text: np.ndarray | torch.Tensor, transform: nn.Module | None, ids: nn.Embedding | None,
                 pad: bool = False, id_dropout: float = 0.0) -> None:
        super().__init__()
        if transform is None and ids is None:
            raise ValueError("an item table needs a text transform, an ID embedding, or both")
        # a copy in torch's own (aligned) memory: BLAS kernels may round differently on unaligned
        # numpy buffers, which would break bit-for-bit determinism between two identical fits
        text = torch.tensor(np.asarray(text, dtype=np.float32))
        if pad:
            text = torch.cat([torch.zeros(1, text.shape[1]), text])
        self.text: torch.Tensor
        self.register_buffer("text", text, persistent=False)
        self.transform, self.ids, self.pad, self.id_dropout = transform, ids, pad, id_dropout

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.numel() > len(self.text):  # many lookups (a batch of sequences): map each item once
            return F.embedding(idx, self.weight)
        out: torch.Tensor | None = self.transform(self.text[idx]) if self.transform is not None else None
        if self.ids is not None:
            ids = self.ids(idx)
            if self.training and self.id_dropout > 0 and self.transform is not None:
                ids = ids * (torch.rand(idx.shape, device=ids.device) >= self.id_dropout).unsqueeze(-1)
            out = ids if out is None else out + ids
        assert out is not None  # __init__ requires a transform or ids
        if self.pad:
            out = out * (idx != 0).unsqueeze(-1).to(out.dtype)
        return out

    @property
    def weight(self) -> torch.Tensor:
        """The whole table, ``(n_rows, dim)``."""
        return self(torch.arange(self.text.shape[0], device=self.text.device))


class MoEAdaptor(nn.Module):
    """UniSRec's mixture-of-experts adaptor over parametric whitening (Hou et al., KDD 2022).

    Expert ``e`` maps ``x`` to ``(x - b_e) W_e``; a softmax gate on ``x`` mixes
    the experts. Dropout is applied to the input embedding.
    """

    def __init__(self, d_in: int, d_out: int, n_experts: int, dropout: float) -> None:
        super().__init__()
        self.center = nn.Parameter(torch.zeros(n_experts, d_in))
        self.proj = nn.Parameter(torch.empty(n_experts, d_in, d_out))
        nn.init.normal_(self.proj, std=0.02)
        self.gate = nn.Linear(d_in, n_experts, bias=False)
        nn.init.zeros_(self.gate.weight)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(x)
        gate = F.softmax(self.gate(x), dim=-1)  # (..., E)
        shift = torch.einsum("ed,edh->eh", self.center, self.proj)  # b_e W_e
        experts = torch.einsum("...d,edh->...eh", x, self.proj) - shift  # (..., E, H)
        return (gate.unsqueeze(-1) * experts).sum(-2)
