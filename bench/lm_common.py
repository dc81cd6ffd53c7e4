"""Shared inputs of the ``bench/lm_*.py`` benchmarks: real MovieLens texts when ``llm4rec.data`` can
load them, synthetic titles otherwise (the report says which)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))


def movielens_texts() -> tuple[list[str], list[str], str]:
    """(titles, full item texts, source description)."""
    titles: list[str] = []
    texts: list[str] = []
    used = []
    try:
        from llm4rec.data import load_dataset

        for name in ("ml-1m", "ml-100k"):
            try:
                ds = load_dataset(name)
            except Exception as exc:  # dataset unavailable here
                print(f"({name} unavailable: {exc})", file=sys.stderr)
                continue
            cat = ds.catalog
            titles += [cat.title(i) for i in range(len(cat))]
            texts += cat.text()
            used.append(f"{name} ({len(cat)} items)")
    except ImportError:
        pass
    if not titles:
        rng = random.Random(0)
        words = ["Night", "Story", "Return", "Love", "City", "Dark", "Last", "River", "King", "Dream", "War",
                 "Summer", "Ghost", "Star", "Road", "Heart", "Blue", "Secret", "House", "Fire"]
        genres = ["Drama", "Comedy", "Action", "Thriller", "Romance", "Horror", "Sci-Fi", "Animation"]
        for _ in range(4000):
            t = " ".join(rng.sample(words, rng.randint(1, 4))) + f" ({rng.randint(1930, 2000)})"
            titles.append(t)
            texts.append(f"{t} | {'|'.join(rng.sample(genres, 2))}")
        return titles, texts, "synthetic titles (llm4rec.data could not load MovieLens here)"
    return titles, texts, "real MovieLens item texts: " + ", ".join(used)


def history_context(titles: list[str], n_tokens_target: int, tokenize) -> str:
    """A user-history prompt of about ``n_tokens_target`` tokens built from real titles."""
    rng = random.Random(1)
    picked: list[str] = []
    while True:
        picked.append(rng.choice(titles))
        ctx = ("A user watched these movies, oldest first: " + "; ".join(picked)
               + ". The next movie the user will watch is:")
        if len(tokenize(ctx)) >= n_tokens_target:
            return ctx
