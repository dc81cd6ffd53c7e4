"""Torch blocks of the CTR models: an MLP, DCNv2's cross network, DIN's attention unit and KAR's
hybrid-expert adaptor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn


def mlp(d_in: int, hidden: Sequence[int], dropout: float = 0.0, out: int | None = None) -> nn.Sequential:
    """``Linear -> ReLU -> Dropout`` per hidden size, then an optional output ``Linear``."""
    layers: list[nn.Module] = []
    d = d_in
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(dropout)]
        d = h
    if out is not None:
        layers.append(nn.Linear(d, out))
    return nn.Sequential(*layers)


def mlp_width(d_in: int, hidden: Sequence[int]) -> int:
    return int(hidden[-1]) if hidden else d_in


class CrossNetV2(nn.Module):
    """DCN-V2's cross layers (Wang et al., WWW 2021), full-rank: ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l``."""

    def __init__(self, d: int, n_layers: int) -> None:
        super().__init__()
        linears = [nn.Linear(d, d) for _ in range(n_layers)]
        for layer in linears:
            nn.init.zeros_(layer.bias)
        self.layers = nn.ModuleList(linears)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x


class DINAttention(nn.Module):
    """DIN's local activation unit (Zhou et al., KDD 2018): weight ``a(h_j, t)`` of each history item
    from ``[h_j, t, h_j - t, h_j * t]`` through an MLP; the pooled interest is ``sum_j a_j h_j`` over the
    valid positions (no softmax, as in the paper, so the intensity of interest is kept)."""

    def __init__(self, d: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(4 * d, hidden, 0.0, out=1)

    def forward(self, hist: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``hist`` (B, L, d), ``mask`` (B, L), ``target`` (B, C, d) -> pooled (B, C, d)."""
        h = hist.unsqueeze(1).expand(-1, target.shape[1], -1, -1)  # (B, C, L, d)
        t = target.unsqueeze(2).expand_as(h)
        a = self.net(torch.cat([h, t, h - t, h * t], dim=-1)).squeeze(-1)  # (B, C, L)
        a = a * mask.unsqueeze(1).to(a.dtype)
        return torch.einsum("bcl,bld->bcd", a, hist)


class HybridExpertAdaptor(nn.Module):
    """KAR's hybrid-expert adaptor (Xi et al., 2023): text vectors of each side (item knowledge, user
    preferences) become compact augmented vectors through a softmax-gated mixture of ``n_shared``
    experts shared by the sides and ``n_dedicated`` experts of the side; each expert is an MLP."""

    def __init__(self, d_in: int, d_out: int, sides: Sequence[str], n_shared: int = 2, n_dedicated: int = 2,
                 hidden: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        if n_shared + n_dedicated < 1:
            raise ValueError("the adaptor needs at least one expert")
        self.shared = nn.ModuleList(mlp(d_in, [hidden], dropout, out=d_out) for _ in range(n_shared))
        self.dedicated = nn.ModuleDict({s: nn.ModuleList(mlp(d_in, [hidden], dropout, out=d_out)
                                                         for _ in range(n_dedicated)) for s in sides})
        self.gates = nn.ModuleDict({s: nn.Linear(d_in, n_shared + n_dedicated) for s in sides})

    def forward(self, x: torch.Tensor, side: str) -> torch.Tensor:
        dedicated = cast(nn.ModuleList, self.dedicated[side])
        experts = [e(x) for e in self.shared] + [e(x) for e in dedicated]
        gate = F.softmax(self.gates[side](x), dim=-1)  # (..., E)
        return (gate.unsqueeze(-1) * torch.stack(experts, dim=-2)).sum(-2)


class LinearAdaptor(nn.Module):
    """The plain alternative to :class:`HybridExpertAdaptor`: one linear map per side."""

    def __init__(self, d_in: int, d_out: int, sides: Sequence[str]) -> None:
        super().__init__()
        self.maps = nn.ModuleDict({s: nn.Linear(d_in, d_out) for s in sides})

    def forward(self, x: torch.Tensor, side: str) -> torch.Tensor:
        out: torch.Tensor = self.maps[side](x)
        return out
