"""UniSRec transfer: weights move between catalogs through text only; item IDs never do."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llm4rec.data.split import leave_one_out
from llm4rec.errors import ConfigError
from llm4rec.models import make_model

SMALL = {"encoder": {"backend": "wordllama"}, "hidden": 16, "max_len": 10, "n_experts": 2, "epochs": 1,
         "progress": False}


@pytest.fixture(scope="module")
def source(ml100k, tmp_path_factory):
    """A UniSRec fitted on the first 60 users, saved."""
    inter = ml100k.interactions
    split = leave_one_out(inter.subset(inter.user < 60))
    model = make_model("unisrec", SMALL).fit(split.train)
    return model, model.save(tmp_path_factory.mktemp("src") / "unisrec")


@pytest.fixture(scope="module")
def target(ml100k):
    inter = ml100k.interactions
    return leave_one_out(inter.subset((inter.user >= 60) & (inter.user < 90)))


def test_zero_shot_transfer_keeps_the_source_weights(source, target):
    model, folder = source
    zero = make_model("unisrec", {**SMALL, "pretrained": str(folder), "finetune": "none"}).fit(target.train)
    assert zero.fit_log_ == [] and zero.n_trainable() == 0
    users = np.unique(target.test.user)[:5]
    model.set_history(target.train)  # same catalog: the source model scores the target users identically
    np.testing.assert_allclose(zero.score(users), model.score(users), rtol=1e-5, atol=1e-5)


def test_adaptor_finetuning_trains_only_the_item_side(source, target):
    model, folder = source
    tuned = make_model("unisrec", {**SMALL, "pretrained": str(folder), "finetune": "adaptor",
                                   "item_repr": "both"}).fit(target.train)
    trainable = {n for n, p in tuned.net_.named_parameters() if p.requires_grad}
    assert "item.ids.weight" in trainable and all(n.startswith("item.") for n in trainable)
    src, new = model.net_.state_dict(), tuned.net_.state_dict()
    assert torch.equal(src["blocks.0.qkv.weight"], new["blocks.0.qkv.weight"])  # frozen, transferred
    assert not torch.equal(src["item.transform.proj"], new["item.transform.proj"])  # fine-tuned


def test_mismatched_architecture_or_encoder_is_refused(source, target, tmp_path):
    _, folder = source
    with pytest.raises(ConfigError, match="no saved model"):
        make_model("unisrec", {**SMALL, "pretrained": str(tmp_path)}).fit(target.train)
    with pytest.raises(ConfigError, match="architecture"):
        make_model("unisrec", {**SMALL, "hidden": 32, "pretrained": str(folder)}).fit(target.train)
    with pytest.raises(ConfigError, match="encoder"):
        make_model("unisrec", {**SMALL, "encoder": {"backend": "sentence-transformers"},
                               "pretrained": str(folder)}).fit(target.train)


@pytest.mark.parametrize("negatives", ["train", "all"])
def test_items_unseen_in_training(target, negatives):
    """With ``negatives="train"`` an item absent from training is never pushed down: its ID part stays
    zero, so it scores by its text alone (what a cold item needs); ``"all"`` trains it as a negative."""
    model = make_model("unisrec", {**SMALL, "item_repr": "both", "negatives": negatives}).fit(target.train)
    unseen = np.flatnonzero(target.train.item_counts() == 0) + 1  # token = item + 1
    seen = np.flatnonzero(target.train.item_counts() > 0) + 1
    ids = model.net_.item.ids.weight.detach()
    assert len(unseen) and ids[seen].abs().sum() > 0
    assert (ids[unseen].abs().sum() == 0) == (negatives == "train")
