"""One behavioural suite that every encoder backend passes."""

from __future__ import annotations

import numpy as np
import pytest

from llm4rec.lm import CacheMissError, Encoder

TEXTS = ["Toy Story (1995) Animation|Children's|Comedy", "Heat (1995) Action|Crime|Thriller",
         "Sense and Sensibility (1995) Drama|Romance", "GoldenEye (1995) Action|Adventure|Thriller",
         "Casino (1995) Drama|Thriller"]


def test_encode_shape_dtype_and_norm(encoder: Encoder) -> None:
    x = encoder.encode(TEXTS)
    assert x.shape == (len(TEXTS), encoder.dim) and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    raw = encoder.encode(TEXTS, normalize=False)
    assert raw.dtype == np.float32 and np.allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), x, atol=1e-5)
    assert encoder.encode(TEXTS[0]).shape == (1, encoder.dim)
    assert encoder.encode([]).shape == (0, encoder.dim)


def test_batch_size_does_not_change_vectors(encoder: Encoder) -> None:
    encoder.set_cache("off")
    a = encoder.encode(TEXTS, batch_size=1)
    b = encoder.encode(TEXTS, batch_size=4)
    assert np.allclose(a, b, atol=1e-4)


def test_similar_texts_are_closer(encoder: Encoder) -> None:
    x = encoder.encode(["an action thriller movie", "a thrilling action film", "a recipe for apple pie"])
    assert x[0] @ x[1] > x[0] @ x[2]


def test_replay_is_bit_identical_and_makes_no_calls(encoder: Encoder, tmp_path) -> None:
    path = str(tmp_path / "enc.sqlite")
    encoder.set_cache("use", path)
    live = encoder.encode(TEXTS, batch_size=2)
    calls = encoder.backend_calls
    assert calls >= 3  # one committed batch of 2 at a time
    encoder.set_cache("replay", path)
    again = encoder.encode(TEXTS, batch_size=2)
    assert again.tobytes() == live.tobytes()
    assert encoder.encode(TEXTS[::-1])[::-1].tobytes() == live.tobytes()  # per-item rows, any order
    assert encoder.backend_calls == calls
    with pytest.raises(CacheMissError, match="not in the cache"):
        encoder.encode(["never encoded before"])


def test_duplicates_in_one_call_are_computed_once(encoder: Encoder, tmp_path) -> None:
    encoder.set_cache("use", str(tmp_path / "dup.sqlite"))
    items0 = encoder.usage.items
    x = encoder.encode(["same text", "same text", "other text"], batch_size=8)
    assert np.array_equal(x[0], x[1])
    assert encoder.usage.items - items0 == 3
