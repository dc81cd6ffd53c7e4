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

    ``adapter`` is a folder written by :func:`llm4rec.tuning.generator.tune_generator`: LoRA
    weights (merged into the base at load), a soft prompt (prepended to every input), or a whole
    fine-tuned model (loaded instead of ``model``). The cache identity then covers the tuned
    weights too, so a tuned model never replays its base model's answers.
    """

    backend = "hf"

    @property
    def context_window(self) -> int | None:
        return int(self.max_length)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text).input_ids)

    def __init__(self, model: str | Path = "smollm2-135m", kind: Literal["auto", "causal", "seq2seq"] = "auto",
                 gguf_file: str | None = None, dtype: str = "float32", device: str = "cpu",
                 max_length: int | None = None, truncation: Truncation = "left", batch_size: int = 8,
                 adapter: str | Path | None = None, **lm: Any) -> None:
        require("transformers")
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        self.folder, self.gguf_file = _resolve(model, gguf_file)
        super().__init__(model_name=str(model), **lm)
        self.adapter: Path | None = Path(adapter) if adapter else None
        self.tuned: dict[str, Any] | None = _read_tuned(adapter) if adapter else None
        self.soft_prompt: torch.Tensor | None = None
        if self.adapter is not None and self.tuned and self.tuned["method"]["method"] == "full":
            self.folder, self.gguf_file = self.adapter, None  # a whole model: load it instead
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
        loaded = cls.from_pretrained(self.folder, dtype=_torch_dtype(dtype), **kw)
        # transformers wraps PreTrainedModel.to so that type checkers take the model as its first argument
        self.model = loaded.to(device).eval()  # type: ignore[arg-type]
        limit = max_length or getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        self.max_length = int(limit or 512)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # transformers >= 5.2x renamed the KV-state argument ``past_key_values`` to ``cache``
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        if self.tuned and self.tuned["method"]["method"] != "full":
            self._apply_adapter()

    def _apply_adapter(self) -> None:
        """Merge LoRA weights into the base, or keep a soft prompt; refuse an adapter of another base."""
        assert self.adapter is not None and self.tuned is not None
        if self.tuned["base"]["identity"] != self._base_identity():
            raise ConfigError(f"adapter {self.adapter} was trained on base model {self.tuned['base']['model']!r} "
                              f"(identity {self.tuned['base']['identity'][:12]}), not on {self.model_name!r}")
        weights = self.adapter / "adapter_model.safetensors"
        if not weights.is_file():
            raise ModelNotFoundError(f"{weights} is missing (only safetensors adapters are loaded)")
        if self.tuned["method"]["method"] == "prompt":
            from safetensors.torch import load_file

            emb = load_file(str(weights))["prompt_embeddings"]
            self.soft_prompt = emb.to(device=self.device, dtype=self.model.dtype)
            return
        from peft import PeftModel

        self.model = PeftModel.from_pretrained(self.model, str(self.adapter)).merge_and_unload().eval()

    # -- identity -------------------------------------------------------------------------------
    def _base_identity(self) -> str:
        if self.gguf_file:
            return "gguf:" + (self.cache or get_cache()).file_hash(self.folder / self.gguf_file)
        return folder_identity(self.folder, self.cache)

    def _identity(self) -> str:
        base = self._base_identity()
        if self.tuned is None or self.tuned["method"]["method"] == "full":  # full: the folder is the model
            return base
        assert self.adapter is not None
        return f"{base}+{self.tuned['method']['method']}:{folder_identity(self.adapter, self.cache)}"

    # -- soft prompt ----------------------------------------------------------------------------
    @property
    def n_soft(self) -> int:
        """Virtual tokens of a prompt-tuning adapter (0 without one)."""
        return 0 if self.soft_prompt is None else int(self.soft_prompt.shape[0])

    def _inputs(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, Any]:
        """Forward inputs for a batch that *starts* a sequence: the soft prompt, if any, goes first."""
        if self.soft_prompt is None:
            out: dict[str, Any] = {"input_ids": ids}
            if mask is not None:
                out["attention_mask"] = mask
            return out
        import torch

        emb = self.input_embeds(ids)
        full = torch.ones(emb.shape[:2], dtype=torch.long, device=emb.device)
        if mask is not None:
            full[:, self.n_soft:] = mask
        return {"inputs_embeds": emb, "attention_mask": full}

    def input_embeds(self, ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings ``(batch, n_soft + len, d)`` of token ids that *start* a sequence, as the model
        reads them: the soft prompt of a prompt-tuning adapter, if any, first."""
        import torch

        emb = self.model.get_input_embeddings()(ids)
        if self.soft_prompt is None:
            return emb
        return torch.cat([self.soft_prompt.expand(len(ids), -1, -1), emb], 1)

    def _prefix(self, ctx: list[int]) -> tuple[torch.Tensor, Any, int]:
        """(logits after the context, its KV state, the number of positions in that state)."""
        import torch

        out = self.model(**self._inputs(torch.tensor([ctx], device=self.device)), use_cache=True)
        past = out["cache"] if self._cache_kw == "cache" else out.past_key_values
        return out.logits[0, -1].float(), past, len(ctx) + self.n_soft

    def encode_prompt(self, prefix: str, suffix: str = "") -> list[int]:
        """Token ids of ``prefix + suffix`` exactly as :meth:`next_token_logprobs` reads them (the prefix with
        the model's special tokens, the suffix alone): training examples use the same ids."""
        return self._context_ids(prefix) + list(self.tokenizer(suffix, add_special_tokens=False).input_ids)

    def choice_ids(self, choices: list[str]) -> list[int]:
        """The first token id of each choice (tokenized alone); choices must start with distinct tokens."""
        ids = []
        for c in choices:
            toks = self.tokenizer(c, add_special_tokens=False).input_ids
            if not toks:
                raise ConfigError(f"answer choice {c!r} has no tokens")
            ids.append(int(toks[0]))
        if len(set(ids)) != len(ids):
            raise ConfigError(f"answer choices {choices} do not start with distinct tokens for this tokenizer")
        return ids

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
            out = self.model.generate(**self._inputs(input_ids.to(self.device), mask.to(self.device)), **gen_kw)
        new = out if self.soft_prompt is not None else out[:, width:] if left else out[:, 1:]
        results, ctoks = [], 0
        for r in range(len(ids)):
            seq = new[r].tolist()
            ends = [i for i, t in enumerate(seq) if t in (tok.eos_token_id, pad)]
            n = ends[0] if ends else len(seq)
            text = tok.decode(seq[:n], skip_special_tokens=True)
            assert isinstance(text, str)  # one sequence decodes to one string
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
        ctx = fit_tokens(self._context_ids(ctx_text), self.max_length - longest - self.n_soft, self.truncation,
                         "score context", keep_first=self.tokenizer.bos_token_id is not None and self.kind == "causal")
        results: list[tuple[float, int]] = [(0.0, 0)] * len(conts)
        todo = [i for i, c in enumerate(conts) if c]
        with torch.inference_mode():
            if self.kind == "causal":
                last, past, n_past = self._prefix(ctx)
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
                    full_mask = torch.cat([torch.ones((b, n_past), dtype=torch.long, device=self.device), mask], 1)
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
                logits = self.model(**self._inputs(torch.tensor([ctx + cont]))).logits[0, self.n_soft:].float()
                lp = torch.log_softmax(logits[len(ctx) - 1:-1], -1)
            else:
                labels = torch.tensor([cont])
                logits = self.model(input_ids=torch.tensor([ctx or [self.tokenizer.eos_token_id]]),
                                    labels=labels).logits[0].float()
                lp = torch.log_softmax(logits, -1)
            return float(lp.gather(-1, torch.tensor(cont).unsqueeze(-1)).sum())


    def _next_token(self, prefix: str, suffixes: list[str], choices: list[str]) -> Batch:
        """The prefix once, then right-padded batches of suffixes on copies of its KV state; the logits
        at each suffix's last token give the choices' log-probs (one forward pass per suffix batch)."""
        if self.kind != "causal":
            return super()._next_token(prefix, suffixes, choices)
        import torch

        choice = torch.tensor(self.choice_ids(choices), device=self.device)
        sufs = [list(self.tokenizer(s, add_special_tokens=False).input_ids) for s in suffixes]
        longest = max(len(x) for x in sufs)
        ctx = fit_tokens(self._context_ids(prefix), self.max_length - longest - self.n_soft, self.truncation,
                         "prompt prefix", keep_first=self.tokenizer.bos_token_id is not None)
        rows: list[list[float]] = [[]] * len(sufs)
        with torch.inference_mode():
            last, past, n_past = self._prefix(ctx)
            for i, x in enumerate(sufs):
                if not x:
                    rows[i] = torch.log_softmax(last, -1)[choice].double().tolist()
            todo = [i for i, x in enumerate(sufs) if x]
            for s in range(0, len(todo), self.batch_size):
                idx = todo[s:s + self.batch_size]
                b, width = len(idx), max(len(sufs[i]) for i in idx)
                ids = torch.full((b, width), self.tokenizer.pad_token_id, dtype=torch.long)
                mask = torch.zeros((b, width), dtype=torch.long)
                for r, i in enumerate(idx):
                    ids[r, :len(sufs[i])] = torch.tensor(sufs[i])
                    mask[r, :len(sufs[i])] = 1
                pkv = copy.deepcopy(past)
                pkv.batch_repeat_interleave(b)
                full_mask = torch.cat([torch.ones((b, n_past), dtype=torch.long), mask], 1).to(self.device)
                logits = self.model(input_ids=ids.to(self.device), attention_mask=full_mask, use_cache=True,
                                    **{self._cache_kw: pkv}).logits.float()
                ends = torch.tensor([len(sufs[i]) - 1 for i in idx], device=self.device)
                lp = torch.log_softmax(logits[torch.arange(b, device=self.device), ends], -1)[:, choice]
                for r, i in enumerate(idx):
                    rows[i] = lp[r].double().tolist()
        return Batch(rows, len(ctx) + sum(len(x) for x in sufs), 0)


def _read_tuned(folder: str | Path) -> dict[str, Any]:
    from llm4rec.tuning.generator.trainer import read_tuned

    try:
        return read_tuned(folder)
    except OSError as exc:
        raise ModelNotFoundError(f"no tuned generator in {folder}: {exc}") from exc
