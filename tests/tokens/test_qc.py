"""Every QC rule on hand-made outputs: one text that fires it and one that does not."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from llm4rec.tokens.qc import QCConfig, apply_policy, check, check_frame, genres_named, report

GOOD = ("Toy Story is a 1995 animated comedy by Pixar, directed by John Lasseter, in which a cowboy doll "
        "and a space ranger learn to be friends.")
TOY = {"year": 1995, "genres": ["Animation", "Children's", "Comedy"]}


def test_a_good_text_passes_every_rule():
    assert check(GOOD, prompt="Introduce the movie Toy Story (1995).", finish_reason="stop", completion_tokens=30,
                 max_tokens=96, **TOY) == []


@pytest.mark.parametrize(("text", "kwargs", "rule"), [
    ("", {}, "empty"),
    ("Sure.", {}, "empty"),
    (GOOD, {"finish_reason": "length"}, "truncated"),
    (GOOD, {"completion_tokens": 96, "max_tokens": 96}, "truncated"),
    ("the movie is great the movie is great the movie is great the movie is great", {}, "repetitive"),
    ("Introduce the movie Toy Story and describe its attributes precisely",
     {"prompt": "Introduce the movie Toy Story (1995) and describe its attributes precisely: director."},
     "copied_prompt"),
    ("Toy Story est un film d'animation américain réalisé par John Lasseter, sorti en été à Paris.", {},
     "non_english"),
    ("Это американский анимационный фильм о игрушках", {}, "non_english"),
    ("1995 1995 ### 12345 --- 42 !!! 7 ... 8", {}, "non_english"),
    ("word " * 300, {}, "over_long"),
    ("Toy Story was released in 2003 by Pixar and directed by John Lasseter.", TOY, "year_contradiction"),
    ("Toy Story is a gritty, action-packed adventure about a soldier.", TOY, "genre_contradiction"),
    ("Toy Story is a terrifying horror comedy about toys.", TOY, "genre_contradiction"),
])
def test_each_rule_fires(text, kwargs, rule):
    assert rule in check(text, **kwargs)


@pytest.mark.parametrize(("text", "kwargs", "rule"), [
    (GOOD, {"completion_tokens": 95, "max_tokens": 96}, "truncated"),
    ("Toy Story (1995) had a sequel in 1999 and another in 2010.", TOY, "year_contradiction"),
    ("Released in 1996, it was Pixar's first feature.", TOY, "year_contradiction"),  # within one year
    ("A gritty crime drama set in the 1990s and the 1980's.", TOY, "year_contradiction"),  # decades, not years
    ("Toy Story is a funny adventure for kids.", TOY, "genre_contradiction"),  # one named genre is listed
    ("A warm story about friendship.", TOY, "genre_contradiction"),  # names no genre
    (GOOD, {"prompt": "Introduce the movie Toy Story (1995) and describe its attributes precisely."},
     "copied_prompt"),
])
def test_rules_do_not_fire_on_consistent_text(text, kwargs, rule):
    assert rule not in check(text, **kwargs)


def test_genre_lexicon():
    assert genres_named("A science fiction western with a love story") == {"Sci-Fi", "Western", "Romance"}
    assert genres_named("an actionable plan") == set()


def _frame():
    rows = [("1", GOOD, 1995, "Animation|Children's|Comedy"),
            ("2", "Toy Story is a gritty, action-packed adventure.", 1995, "Animation|Children's|Comedy"),
            ("3", "", 1995, "Drama"),
            ("4", GOOD, 1995, "Animation|Comedy")]
    return pd.DataFrame({"key": [r[0] for r in rows], "index": range(4), "text": [r[1] for r in rows],
                         "prompt": [json.dumps([{"role": "user", "content": "Introduce the movie."}])] * 4,
                         "finish_reason": ["stop", "stop", "stop", "length"], "completion_tokens": [30, 9, 0, 96],
                         "year": pd.array([r[2] for r in rows], dtype="Int64"), "genres": [r[3] for r in rows],
                         "catalog_text": [f"catalog {r[0]}" for r in rows]})


def test_report_rates_examples_and_policy():
    cfg = QCConfig()
    checked = check_frame(_frame(), max_tokens=96, config=cfg)
    assert checked["qc_flags"].tolist() == ["", "genre_contradiction", "empty", "truncated"]
    assert checked["qc_ok"].tolist() == [True, False, False, True]  # truncated is reported, not dropped
    rep = report(checked, cfg)
    assert rep.n == 4 and rep.n_ok == 2
    assert rep.rates["genre_contradiction"] == 0.25 and rep.examples["empty"] == [("3", "")]
    md = rep.markdown()
    assert "| genre_contradiction | 1 | 25.0% |" in md and "policy for the others: `fallback`" in md
    assert apply_policy(checked, "fallback") == [GOOD, "catalog 2", "catalog 3", GOOD]
    assert apply_policy(checked, "drop") == [GOOD, None, None, GOOD]
    assert apply_policy(checked, "keep")[1].startswith("Toy Story is a gritty")


def test_drop_rules_are_configurable():
    checked = check_frame(_frame(), max_tokens=96, config=QCConfig(drop_rules=["truncated"]))
    assert checked["qc_ok"].tolist() == [True, True, True, False]
