"""A third-party plug-in, exposed only through Python entry points, runs through ``llm4rec run``.

The plug-in package (written into a temporary folder with its ``.dist-info``, as pip would
install it) adds one entry to every registry: a model, a protocol, a ranking metric (a module
entry point whose decorator registers it), a dataset format, a split kind, an encoder backend
and a generator backend. The run reads real MovieLens-100K written in the plug-in's format.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

PLUGIN = '''
from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from llm4rec.data.dataset import from_dataframe
from llm4rec.data.split import leave_one_out
from llm4rec.eval.protocols import FullRanking
from llm4rec.lm.config import WordLlamaEncoderConfig
from llm4rec.lm.toy import ToyGenerator, ToyGeneratorConfig
from llm4rec.models.classic.pop import Pop


class DemoPop(Pop):
    name = "demo-pop"


class DemoFull(FullRanking):
    kind: Literal["demo-full"] = "demo-full"
    tie_break: Literal["random", "index"] = "index"


def read_lines(spec):
    df = pd.read_csv(spec.path, sep=" ", names=["user", "item", "timestamp"], dtype=str)
    df["timestamp"] = df["timestamp"].astype("int64")
    items = pd.read_csv(spec.items, sep="\\t", dtype=str, quoting=3) if spec.items else None
    return from_dataframe(df, items=items, name=spec.name or "demo")


def last_item(ds, seed=0, **params):
    return replace(leave_one_out(ds, seed=seed, **params), kind="demo-last")


class DemoWords(WordLlamaEncoderConfig):
    backend: Literal["demo-words"] = "demo-words"


class DemoToy(ToyGeneratorConfig):
    backend: Literal["demo-toy"] = "demo-toy"

    def build(self):
        return ToyGenerator(ToyGeneratorConfig(vocab=self.vocab, alpha=self.alpha))
'''

METRICS_MODULE = '''
import numpy as np

from llm4rec.eval.metrics import ranking_metric


@ranking_metric("hit1")
def hit_at_1(r, k):
    """1 when the first item is relevant (whatever the cut-off): expected value derived generically."""
    return r.hits[:, 0].astype(np.float64)
'''

ENTRY_POINTS = '''
[llm4rec.models]
demo-pop = l4r_demo:DemoPop
[llm4rec.protocols]
demo-full = l4r_demo:DemoFull
[llm4rec.metrics]
demo = l4r_demo.metrics
[llm4rec.formats]
demo-lines = l4r_demo:read_lines
[llm4rec.splits]
demo-last = l4r_demo:last_item
[llm4rec.encoders]
demo-words = l4r_demo:DemoWords
[llm4rec.generators]
demo-toy = l4r_demo:DemoToy
'''

RUN = '''
name = "plugin-run"
[dataset]
path = "{data}"
format = "demo-lines"
items = "{items}"
name = "ml100k-lines"
[split]
kind = "demo-last"
[[protocols]]
kind = "demo-full"
[[protocols]]
kind = "sampled"
n_negatives = 49
[eval]
ks = [1, 10]
metrics = ["hr", "ndcg", "hit1"]
bootstrap = 0
max_users = 60
[[models]]
name = "demo-pop"
[[models]]
name = "textknn"
params = {{ encoder = {{ backend = "demo-words" }} }}
[[models]]
name = "llm-likelihood"
params = {{ generator = {{ backend = "demo-toy" }}, full_catalog = "all", progress = false }}
[output]
plot = false
'''


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory, ml100k):
    root = tmp_path_factory.mktemp("plugin")
    pkg = root / "l4r_demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    (pkg / "metrics.py").write_text(textwrap.dedent(METRICS_MODULE))
    info = root / "l4r_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: l4r-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    inter = ml100k.interactions
    lines = np.column_stack([np.asarray(ml100k.user_ids)[inter.user], ml100k.catalog.ids[inter.item],
                             inter.timestamp.astype(np.int64).astype(str)])
    data = root / "ml100k.lines"
    data.write_text("\n".join(" ".join(map(str, row)) for row in lines) + "\n")
    items = root / "items.tsv"
    titles = [" ".join(t.split()) for t in ml100k.catalog.text()]
    items.write_text("item\ttitle\n" + "".join(f"{i}\t{t}\n" for i, t in zip(ml100k.catalog.ids, titles, strict=True)))
    config = root / "run.toml"
    config.write_text(RUN.format(data=data, items=items))
    out = root / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(SRC)])}
    proc = subprocess.run([sys.executable, "-m", "llm4rec.cli", "run", str(config), "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), (out / "report.md").read_text()


def test_every_plugin_entry_runs(plugin_run):
    records, report = plugin_run
    got = {(r["model"], r["protocol"], r["metric"], r["k"]) for r in records}
    for model in ("demo-pop", "textknn", "llm-likelihood"):
        for protocol in ("demo-full", "sampled-uniform-49"):
            for metric in ("hr", "ndcg", "hit1"):
                assert (model, protocol, metric, 10) in got, (model, protocol, metric)
    assert "ml100k-lines" in report and "demo-last" in report  # the plug-in reader and split were used


def test_plugin_metric_agrees_with_the_builtin_one(plugin_run):
    records, _ = plugin_run
    value = {(r["model"], r["protocol"], r["metric"], r["k"]): r["value"] for r in records}
    for model in ("demo-pop", "textknn", "llm-likelihood"):
        for protocol in ("demo-full", "sampled-uniform-49"):
            # hit1 at any cut-off is HR@1: on hit matrices (full) and in expectation over ties (sampled)
            assert value[(model, protocol, "hit1", 10)] == pytest.approx(value[(model, protocol, "hr", 1)], abs=1e-12)
    assert value[("demo-pop", "demo-full", "hr", 10)] > 3 * 10 / 1682  # popularity on real data beats chance
