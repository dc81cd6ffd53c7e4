"""The generator trainer on a tiny random Llama (real tokenizer): methods, answer-only loss, resume
after ``kill -9``, adapters loaded back by the ``hf`` generator with their own cache identity."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from llm4rec.lm.hf import HFGenerator
from llm4rec.tuning.generator import (
    FullFinetuneMethod,
    LoraMethod,
    PromptTuningMethod,
    TokenExample,
    TrainConfig,
    method_config,
    tune_generator,
)
from llm4rec.tuning.generator.data import IGNORE, AnswerCollator, EpochOrderDataset

JOB = Path(__file__).with_name("train_job.py")
PREFIX, SUFFIX = "The user liked movie number 3.\n", "Will they like the next? Answer:"


@pytest.fixture(scope="module")
def base(tiny_llm) -> HFGenerator:
    return HFGenerator(tiny_llm, cache_mode="off")


def _examples(g: HFGenerator, n: int = 8) -> list[TokenExample]:
    return [TokenExample(g.encode_prompt(f"The user liked movie number {i}.\n", SUFFIX),
                         g.tokenizer(" Yes" if i % 2 else " No", add_special_tokens=False).input_ids)
            for i in range(n)]


def test_loss_only_on_answer_tokens_and_seeded_epoch_order():
    ex = [TokenExample([5, 6, 7], [9]), TokenExample([1, 2, 3, 4, 5], [8, 9])]
    data = EpochOrderDataset(ex, epochs=3, seed=1, max_length=4)
    assert len(data) == 6 and sorted(data.order[:2]) == [0, 1] and sorted(data.order[2:4]) == [0, 1]
    np.testing.assert_array_equal(data.order, EpochOrderDataset(ex, 3, 1, 4).order)
    batch = AnswerCollator(pad_id=0)([data[i] for i in range(2)])
    for ids, labels, mask in zip(batch["input_ids"], batch["labels"], batch["attention_mask"], strict=True):
        n = int(mask.sum())
        assert n <= 4  # the prompt was cut on the left to fit max_length
        answer = labels[labels != IGNORE]
        assert answer.tolist() == ids[n - len(answer):n].tolist() and len(answer) in (1, 2)


@pytest.mark.parametrize("method", ["lora", "prompt", "full"])
def test_methods_train_save_and_load_into_hf_generator(base, tmp_path, method):
    cfg = TrainConfig(epochs=2, batch_size=2, grad_accum=2, lr=1e-2, save_steps=100)
    m = method_config({"method": method, **({"n_virtual_tokens": 4} if method == "prompt" else {})})
    res = tune_generator(base, _examples(base), m, cfg, tmp_path / "out", runs_dir=tmp_path / "runs")
    assert res.steps == 4 and len(res.losses) == 4 and res.train_tokens > 0 and res.tokens_per_second > 0
    total = sum(p.numel() for p in base.model.parameters())
    assert 0 < res.trainable_params <= total and (res.trainable_params == total) == (method == "full")
    assert not any((tmp_path / "runs").glob("*/checkpoint-*"))  # checkpoints removed once saved
    meta = json.loads((tmp_path / "out" / "llm4rec_tuned.json").read_text())
    assert meta["base"]["identity"] == base.model_id and meta["method"]["method"] == method
    tuned = HFGenerator(base.folder, cache_mode="off", adapter=tmp_path / "out")
    assert tuned.model_id != base.model_id
    lp = tuned.next_token_logprobs(PREFIX, [SUFFIX, " and?"], [" Yes", " No"])
    naive = [tuned.naive_score(PREFIX + SUFFIX, c) for c in (" Yes", " No")]
    np.testing.assert_allclose(lp[0], naive, atol=1e-4)
    np.testing.assert_allclose(tuned.score(PREFIX + SUFFIX, [" Yes", " No"]).logprobs, naive, atol=1e-4)
    assert np.abs(lp[0] - base.next_token_logprobs(PREFIX, [SUFFIX], [" Yes", " No"])[0]).max() > 1e-4
    assert isinstance(tuned.generate("Hello", max_tokens=3), str)
    if method != "full":  # adapters are small and the base model itself was not modified
        assert res.saved_bytes < 0.05 * total * 4
        assert HFGenerator(base.folder, cache_mode="off").model_id == base.model_id


def test_prompt_tuning_trains_only_the_soft_prompt(base, tmp_path):
    res = tune_generator(base, _examples(base), PromptTuningMethod(n_virtual_tokens=3, init_text=None),
                         TrainConfig(epochs=1, batch_size=4, grad_accum=1), tmp_path / "pt", runs_dir=tmp_path)
    assert res.trainable_params == 3 * base.model.config.hidden_size
    assert load_file(str(tmp_path / "pt" / "adapter_model.safetensors"))["prompt_embeddings"].shape == (3, 32)


def test_cache_identity_includes_the_adapter(base, tmp_path):
    """A tuned model must not replay its base model's cached answers (and two adapters differ too)."""
    cfg = TrainConfig(epochs=1, batch_size=4, grad_accum=1, lr=1e-2)
    for seed in (1, 2):
        tune_generator(base, _examples(base), LoraMethod(), cfg.model_copy(update={"seed": seed}),
                       tmp_path / f"a{seed}", runs_dir=tmp_path / "runs")
    db = str(tmp_path / "cache.sqlite")
    plain = HFGenerator(base.folder, cache_path=db)
    a1 = HFGenerator(base.folder, cache_path=db, adapter=tmp_path / "a1")
    a2 = HFGenerator(base.folder, cache_path=db, adapter=tmp_path / "a2")
    assert len({plain.model_id, a1.model_id, a2.model_id}) == 3
    want = plain.next_token_logprobs(PREFIX, [SUFFIX], [" Yes", " No"])
    got = a1.next_token_logprobs(PREFIX, [SUFFIX], [" Yes", " No"])
    assert a1.backend_calls == 1 and not np.allclose(got, want)  # computed, not replayed from the base
    again = HFGenerator(base.folder, cache_path=db, adapter=tmp_path / "a1", cache_mode="replay")
    np.testing.assert_array_equal(again.next_token_logprobs(PREFIX, [SUFFIX], [" Yes", " No"]), got)
    assert again.backend_calls == 0
    a2.next_token_logprobs(PREFIX, [SUFFIX], [" Yes", " No"])
    assert a2.backend_calls == 1


def test_adapter_of_another_base_is_refused(base, tmp_path, tiny_llm):
    from tiny_lm import make_tiny_llama

    tune_generator(base, _examples(base, 4), LoraMethod(), TrainConfig(epochs=1, batch_size=4, grad_accum=1),
                   tmp_path / "a", runs_dir=tmp_path)
    other = make_tiny_llama(tmp_path / "other", seed=1)
    with pytest.raises(Exception, match="trained on base model"):
        HFGenerator(str(other), cache_mode="off", adapter=tmp_path / "a")


def _run(args: list[str], kill_at: int | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"),
                                                      os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(JOB), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if kill_at is not None and line.startswith(f"STEP {kill_at}"):
            os.kill(proc.pid, signal.SIGKILL)  # a real kill -9, mid-run (checkpoint of step kill_at-1 on disk)
            break
    proc.wait(timeout=120)
    if kill_at is not None:
        assert proc.returncode == -signal.SIGKILL
        return {}
    assert proc.returncode == 0, "".join(lines[-30:])
    return json.loads(next(x for x in lines if x.startswith("RESULT "))[7:])


def test_resume_after_kill_9_sees_every_sample_once(tiny_llm, tmp_path):
    """Killed with SIGKILL at step 4 of 6, rerun: identical losses and weights to an uninterrupted run."""
    whole = _run([tiny_llm, str(tmp_path / "whole"), str(tmp_path / "runs-a"), "0"])
    assert whole["resumed_from_step"] == 0 and whole["steps"] == 6
    t0 = time.time()
    _run([tiny_llm, str(tmp_path / "resumed"), str(tmp_path / "runs-b"), "0.5"], kill_at=4)
    assert time.time() - t0 < 120 and not (tmp_path / "resumed").exists()
    again = _run([tiny_llm, str(tmp_path / "resumed"), str(tmp_path / "runs-b"), "0"])
    assert 3 <= again["resumed_from_step"] < 6 and again["steps"] == 6
    k = again["resumed_from_step"]
    np.testing.assert_allclose(again["losses"], whole["losses"][k:], rtol=1e-5)
    a = load_file(str(tmp_path / "whole" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6)


def test_method_configs_are_typed():
    assert isinstance(method_config({"method": "full"}), FullFinetuneMethod)
    assert method_config(None) == LoraMethod()
    with pytest.raises(Exception, match="unknown tuning method"):
        method_config({"method": "adapterfusion"})
    with pytest.raises(Exception, match="invalid lora"):
        method_config({"method": "lora", "rank": 8})


def test_method_overriding_config_save_is_refused():
    """The trainer writes a method's result with save_trained(); an override of save() (the config's TOML
    writer) would never be called, so registration refuses it."""
    from typing import Any

    from llm4rec.tuning.generator.base import MethodConfig, register_method

    class Stale(MethodConfig):
        method: str = "stale"

        def save(self, trained: Any, folder: Any) -> None:  # type: ignore[override]
            raise AssertionError("never called")

    with pytest.raises(TypeError, match="save_trained"):
        register_method("stale-test")(Stale)
