"""Hugging Face transformers backends: mean-pooling encoder, causal and seq2seq generators.

The loaded ``model`` and ``tokenizer`` stay public attributes so tuning code (LoRA, prompt
tuning) can build on the same objects.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from llm4rec.lm.base import Batch, Completion, Encoder, Generator, Message, Truncation, fit_tokens
from llm4rec.lm.cache import folder_identity, get_cache
from llm4rec.lm.errors import ConfigError, ModelNotFoundError
from llm4rec.lm.registry import require, resolve_hf_dir

if TYPE_CHECKING:
    import torch


def _torch_dtype(name: str) -> torch.dtype:
    import torch

    try:
        return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]
    except KeyError:
        raise ConfigError(f"unknown dtype {name!r}: use float32, float16 or bfloat16") from None


def _resolve(model: str | Path, gguf_file: str | None) -> tuple[Path, str | None]:
    """(folder, gguf file name or None) for ``from_pretrained``."""
    p = Path(model).expanduser()
    if gguf_file is not None:
        return p, gguf_file
    if p.is_file() and p.suffix == ".gguf":
        return p.parent, p.name
    return resolve_hf_dir(model), None


class HFEncoder(Encoder):
    """Any Hugging Face ``AutoModel`` folder; embeddings are the attention-masked mean of the last
    hidden states. Inputs longer than ``max_length`` tokens are cut at the end."""

    backend = "hf"

    def __init__(self, model: str | Path = "minilm", max_length: int = 256, device: str = "cpu",
                 dtype: str = "float32", batch_size: int = 32, **lm: Any) -> None:
        require("transformers")
        from transformers import AutoModel, AutoTokenizer

        self.folder = resolve_hf_dir(model)
        super().__init__(model_name=str(model), **lm)
        self.max_length, self.device, self.default_batch_size = max_length, device, batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        self.model = AutoModel.from_pretrained(self.folder, dtype=_torch_dtype(dtype)).to(device).eval()

    def _identity(self) -> str:
        return folder_identity(self.folder, self.cache)

    def _key_params(self) -> dict[str, Any]:
        return {"pooling": "mean", "max_length": self.max_length}

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def _encode(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, int]:
        import torch

        out, ntok = [], 0
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer(texts[i:i + batch_size], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(pooled.float().cpu().numpy())
                ntok += int(enc["attention_mask"].sum())
        return np.concatenate(out), ntok


class HFGenerator(Generator):
    """A causal (decoder-only) or seq2seq (encoder-decoder) transformers model.

    ``score`` runs the context once: for causal models its ``past_key_values`` are copied and
    repeated for a right-padded batch of continuations; for seq2seq models the encoder output
    of the context is reused and each continuation is the decoder target.
    """

    backend = "hf"

    def __init__(self, model: str | Path = "smollm2-135m", kind: Literal["auto", "causal", "seq2seq"] = "auto",
                 gguf_file: str | None = None, dtype: str = "float32", device: str = "cpu",
                 max_length: int | None = None, truncation: Truncation = "left", batch_size: int = 8,
                 **lm: Any) -> None:
        require("transformers")
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        self.folder, self.gguf_file = _resolve(model, gguf_file)
        super().__init__(model_name=str(model), **lm)
        kw: dict[str, Any] = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        try:
            config = AutoConfig.from_pretrained(self.folder, **kw)
        except OSError as exc:
            raise ModelNotFoundError(f"cannot load a transformers model from {self.folder}: {exc}") from exc
        if kind == "auto":
            kind = "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"
        self.kind = kind
        self.device, self.truncation, self.batch_size = device, truncation, batch_size
        self.score_chunk = self.generate_chunk = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder, **kw)
        cls = AutoModelForSeq2SeqLM if kind == "seq2seq" else AutoModelForCausalLM
        self.model = cls.from_pretrained(self.folder, dtype=_torch_dtype(dtype), **kw).to(device).eval()
        limit = max_length or getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        self.max_length = int(limit or 512)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # transformers >= 5.2x renamed the KV-state argument ``past_key_values`` to ``cache``
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    # -- identity -------------------------------------------------------------------------------
    def _identity(self) -> str:
        if self.gguf_file:
            return "gguf:" + (self.cache or get_cache()).file_hash(self.folder / self.gguf_file)
        return folder_identity(self.folder, self.cache)

    def _key_params(self) -> dict[str, Any]:
        return {"kind": self.kind, "max_length": self.max_length, "truncation": self.truncation,
                "dtype": str(self.model.dtype)}

    # -- generation -----------------------------------------------------------------------------
    def _render_chat(self, conv: list[Message]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=False))
        # no template (base or seq2seq model): a plain transcript
        return "".join(f"{m['role']}: {m['content']}\n" for m in conv) + "assistant:"

    def _generate(self, prompts: list[str], max_tokens: int, temperature: float, stop: list[str],
                  seed: int, special: bool = True) -> Batch:
        import torch

        tok = self.tokenizer
        budget = self.max_length if self.kind == "seq2seq" else self.max_length - max_tokens
        ids = [fit_tokens(tok(p, add_special_tokens=special).input_ids, budget, self.truncation, "prompt",
                          keep_first=special and tok.bos_token_id is not None) for p in prompts]
        width = max(len(x) for x in ids)
        pad = tok.pad_token_id
        left = self.kind == "causal"  # decoder-only models generate after left padding
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for r, x in enumerate(ids):
            sl = slice(width - len(x), width) if left else slice(0, len(x))
            input_ids[r, sl] = torch.tensor(x)
            mask[r, sl] = 1
        gen_kw: dict[str, Any] = {"max_new_tokens": max_tokens, "pad_token_id": pad}
        if temperature > 0:
            torch.manual_seed(seed)
            gen_kw.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
        else:
            gen_kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                                      **gen_kw)
        new = out[:, width:] if left else out[:, 1:]
        results, ctoks = [], 0
        for r in range(len(ids)):
            seq = new[r].tolist()
            ends = [i for i, t in enumerate(seq) if t in (tok.eos_token_id, pad)]
            n = ends[0] if ends else len(seq)
            text = tok.decode(seq[:n], skip_special_tokens=True)
            reason = "stop" if ends else "length"
            for s in stop:
                if s and s in text:
                    text, reason = text[:text.index(s)], "stop"
            ctoks += n
            results.append(Completion(text, len(ids[r]), n, reason))
        return Batch(results, sum(len(x) for x in ids), ctoks)

    def _chat(self, conversations: list[list[Message]], max_tokens: int, temperature: float,
              stop: list[str], seed: int) -> Batch:
        prompts = [self._render_chat(c) for c in conversations]
        templated = bool(getattr(self.tokenizer, "chat_template", None))
        return self._generate(prompts, max_tokens, temperature, stop, seed, special=not templated)

    # -- scoring --------------------------------------------------------------------------------
    def _context_ids(self, context: str) -> list[int]:
        tok = self.tokenizer
        ids = list(tok(context, add_special_tokens=self.kind == "causal").input_ids) if context else []
        if self.kind == "causal" and tok.bos_token_id is not None and (not ids or ids[0] != tok.bos_token_id) \
                and getattr(tok, "add_bos_token", False):
            ids = [tok.bos_token_id, *ids]
        if not ids and self.kind == "causal":  # nothing to condition on: start from BOS or end-of-text
            ids = [tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id]
        return ids

    def _score(self, context: str, continuations: list[str]) -> Batch:
        import torch

        ctx_text = context.rstrip(" \t")
        trail = context[len(ctx_text):]
        conts = [list(self.tokenizer(trail + c, add_special_tokens=False).input_ids) for c in continuations]
        longest = max((len(c) for c in conts), default=0)
        ctx = fit_tokens(self._context_ids(ctx_text), self.max_length - longest, self.truncation, "score context",
                         keep_first=self.tokenizer.bos_token_id is not None and self.kind == "causal")
        results: list[tuple[float, int]] = [(0.0, 0)] * len(conts)
        todo = [i for i, c in enumerate(conts) if c]
        with torch.inference_mode():
            if self.kind == "causal":
                out = self.model(input_ids=torch.tensor([ctx], device=self.device), use_cache=True)
                last = out.logits[0, -1].float()
                past = out["cache"] if self._cache_kw == "cache" else out.past_key_values
            else:
                enc_ids = torch.tensor([ctx or [self.tokenizer.eos_token_id]], device=self.device)
                enc = self.model.get_encoder()(input_ids=enc_ids)
            for s in range(0, len(todo), self.batch_size):
                idx = todo[s:s + self.batch_size]
                b, width = len(idx), max(len(conts[i]) for i in idx)
                labels = torch.zeros((b, width), dtype=torch.long)
                mask = torch.zeros((b, width), dtype=torch.long)
                for r, i in enumerate(idx):
                    labels[r, :len(conts[i])] = torch.tensor(conts[i])
                    mask[r, :len(conts[i])] = 1
                labels, mask = labels.to(self.device), mask.to(self.device)
                if self.kind == "causal":
                    pkv = copy.deepcopy(past)
                    pkv.batch_repeat_interleave(b)
                    full_mask = torch.cat([torch.ones((b, len(ctx)), dtype=torch.long, device=self.device), mask], 1)
                    logits = self.model(input_ids=labels, attention_mask=full_mask, use_cache=True,
                                        **{self._cache_kw: pkv}).logits.float()
                    logits = torch.cat([last.expand(b, 1, -1), logits[:, :-1]], 1)
                else:
                    from transformers.modeling_outputs import BaseModelOutput

                    hidden = enc.last_hidden_state.expand(b, -1, -1)
                    masked = labels.masked_fill(mask == 0, -100)
                    dec_in = self.model.prepare_decoder_input_ids_from_labels(labels=masked)
                    logits = self.model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
                                        decoder_input_ids=dec_in, decoder_attention_mask=mask).logits.float()
                lp = torch.log_softmax(logits, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
                sums = (lp * mask).sum(1).double().cpu().numpy()
                for r, i in enumerate(idx):
                    results[i] = (float(sums[r]), len(conts[i]))
        evaluated = len(ctx) + sum(len(c) for c in conts)
        return Batch(results, evaluated, 0)

    def naive_score(self, context: str, continuation: str) -> float:
        """Reference: log p(continuation | context) from one full forward pass, no state reuse."""
        import torch

        ctx_text = context.rstrip(" \t")
        cont = list(self.tokenizer(context[len(ctx_text):] + continuation, add_special_tokens=False).input_ids)
        ctx = self._context_ids(ctx_text)
        with torch.inference_mode():
            if self.kind == "causal":
                logits = self.model(input_ids=torch.tensor([ctx + cont])).logits[0].float()
                lp = torch.log_softmax(logits[len(ctx) - 1:-1], -1)
            else:
                labels = torch.tensor([cont])
                logits = self.model(input_ids=torch.tensor([ctx or [self.tokenizer.eos_token_id]]),
                                    labels=labels).logits[0].float()
                lp = torch.log_softmax(logits, -1)
            return float(lp.gather(-1, torch.tensor(cont).unsqueeze(-1)).sum())

