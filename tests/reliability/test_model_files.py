"""Item 8 (model files): damaged or tampered model folders raise ArtifactError naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llm4rec.errors import ArtifactError
from llm4rec.models.base import Recommender


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage,file,needle", [
    (lambda f: _truncate(f / "state.npz"), "state.npz", "damaged or incomplete"),
    (lambda f: (f / "state.npz").write_bytes(b""), "state.npz", "damaged or incomplete"),
    (lambda f: (f / "state.npz").unlink(), "state.npz", "damaged or incomplete"),
    (lambda f: (f / "meta.json").write_text("{not json"), "meta.json", "is damaged"),
    (lambda f: (f / "meta.json").write_text("[1, 2]"), "meta.json", "not a JSON object"),
    (lambda f: (f / "meta.json").unlink(), "meta.json", "not a saved model folder"),
    (lambda f: (f / "config.toml").write_text("seed = [unclosed"), "config.toml", "cannot be read as TOML"),
    (lambda f: (f / "config.toml").write_text("seed = 'x'\n"), "config.toml", "invalid for 'pop'"),
    (lambda f: (f / "config.toml").write_text("sede = 1\n"), "config.toml", "invalid for 'pop'"),
])
def test_damaged_model_files(pop_folder, damage, file, needle):
    damage(pop_folder)
    with pytest.raises(ArtifactError, match=needle) as info:
        Recommender.load(pop_folder)
    assert file in str(info.value) or "meta.json" in str(info.value)


@pytest.mark.parametrize("value", [-1, "12", 1.5, None, True])
def test_meta_sizes_must_be_non_negative_integers(pop_folder, value):
    meta = json.loads((pop_folder / "meta.json").read_text())
    meta["n_items"] = value
    (pop_folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="n_items must be a non-negative integer"):
        Recommender.load(pop_folder)


def test_pickled_state_is_refused(pop_folder):
    with np.load(pop_folder / "state.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["state.evil"] = np.array([object()], dtype=object)
    np.savez(pop_folder / "state.npz", **arrays)
    with pytest.raises(ArtifactError, match=r"state\.npz"):
        Recommender.load(pop_folder)


def test_history_outside_the_saved_universe_is_refused(pop_folder):
    with np.load(pop_folder / "state.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["history_item"] = arrays["history_item"] + 10_000
    np.savez(pop_folder / "state.npz", **arrays)
    with pytest.raises(ArtifactError, match=r"state\.npz"):
        Recommender.load(pop_folder)


def _edit_state(folder, fn) -> None:
    with np.load(folder / "state.npz") as z:
        arrays = {k: z[k] for k in z.files}
    fn(arrays)
    np.savez(folder / "state.npz", **arrays)


@pytest.mark.parametrize("damage", [
    lambda a: a.update(history_rating=a["history_rating"][:-3]),  # history arrays of unequal length
    lambda a: a.update({k: v[:-3] for k, v in a.items() if k.startswith("state.")}),  # state cut short
    lambda a: a.update({k: np.full(v.shape, "x") for k, v in a.items() if k.startswith("state.")}),
])
def test_state_of_the_wrong_shape_or_type_is_an_artifact_error(pop_folder, damage):
    _edit_state(pop_folder, damage)
    with pytest.raises(ArtifactError, match=r"state\.npz is damaged or incomplete"):
        Recommender.load(pop_folder).score(np.arange(3))


def test_meta_naming_another_model_is_an_artifact_error(tiny_split, tmp_path):
    """A pop folder whose meta.json says 'bpr': torch refuses the state (RuntimeError) -> ArtifactError."""
    from llm4rec.models import make_model

    folder = make_model("pop").fit(tiny_split.train).save(tmp_path / "pop")
    meta = json.loads((folder / "meta.json").read_text())
    meta["model"] = "bpr"
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"state\.npz|config\.toml"):
        Recommender.load(folder)
