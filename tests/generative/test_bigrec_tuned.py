"""BIGRec's tuning step (``tune = true``) on a tiny random Llama with SmolLM2's tokenizer: the contract
suite over a 40-item catalog, the seeded (prompt -> title) examples, the adapter saved with the model,
and a fit interrupted mid-training that resumes from its checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llm4rec.data.split import Split
from llm4rec.models import make_model
from llm4rec.models.base import Recommender
from llm4rec.models.generative.bigrec import BIGRec
from llm4rec.testing import SmallCatalogContract
from tiny_lm import shared_tiny_llama


def params(**over: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "generator": {"backend": "hf", "model": shared_tiny_llama(), "cache_mode": "off", "batch_size": 16},
        "encoder": {"backend": "wordllama"}, "tune": True, "train_examples": 8, "max_tokens": 4, "valid_users": 8,
        "train": {"epochs": 1, "batch_size": 2, "grad_accum": 1, "lr": 1e-2, "max_length": 128, "save_steps": 1}}
    return {**p, **over}


class TestBIGRecTuned(SmallCatalogContract):
    def make_model(self) -> Recommender:
        return make_model("bigrec", params())


class Interrupted(Exception):
    pass


def test_examples_are_seeded_title_continuations(small_catalog_split: Split) -> None:
    model = make_model("bigrec", params(tune=False, generator={"backend": "toy"}))
    assert isinstance(model, BIGRec)
    model.fit(small_catalog_split.train)
    first = model.examples()
    assert len(first) == 8 and first == model.examples()  # seeded
    prompt, answer = first[0]
    assert prompt.endswith("the user will watch is:") and answer.startswith(" ")
    assert answer[1:] in model.titles_


def test_tuned_adapter_is_saved_with_the_model(small_catalog_split: Split, tmp_path: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM4REC_CACHE", str(tmp_path / "cache"))
    model = make_model("bigrec", params()).fit(small_catalog_split.train, small_catalog_split.valid)
    costs = model.costs()
    assert costs["tune_steps"] == 4 and costs["tune_trainable_params"] > 0 and costs["pop_weight"] in (0, .05, .1, .2)
    users = np.unique(small_catalog_split.test.user)[:3]
    back = Recommender.load(model.save(tmp_path / "m"))
    assert isinstance(back, BIGRec) and back.adapter_dir_ is not None
    assert (back.adapter_dir_ / "adapter_model.safetensors").read_bytes() == \
        (model.adapter_dir_ / "adapter_model.safetensors").read_bytes()  # type: ignore[operator]
    np.testing.assert_allclose(back.score(users), model.score(users), atol=1e-5)


def test_a_tuning_run_interrupted_resumes_from_its_checkpoint(small_catalog_split: Split, tmp_path: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from llm4rec.models.training import TrainingOptions

    monkeypatch.setenv("LLM4REC_CACHE", str(tmp_path))

    def die(model: Recommender, entry: dict[str, Any]) -> bool:
        if entry["step"] == 3:
            raise Interrupted
        return False

    with pytest.raises(Interrupted):
        make_model("bigrec", params()).fit(small_catalog_split.train, options=TrainingOptions(callbacks=[die]))
    assert list(tmp_path.glob("tuning-runs/*/checkpoint-2"))
    again = make_model("bigrec", params()).fit(small_catalog_split.train)
    assert again.costs()["tune_resumed_from_step"] == 2 and again.costs()["tune_steps"] == 4


CONFIGS = sorted(p for p in (Path(__file__).resolve().parents[2] / "configs").glob("*.toml")
                 if p.stem.split("-")[0] in ("genrec", "bigrec", "p5"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_generative_recipes_validate(path: Path) -> None:
    from llm4rec.eval.config import load_run_config

    for spec in load_run_config(path).models:
        make_model(spec.name, spec.params)  # typed configs check every parameter; nothing is loaded
