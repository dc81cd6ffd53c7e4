"""Batch generation (paradigm 2): a generator writes a text per item or per user, once, offline.

``llm4rec generate CONFIG`` (or :func:`generate`) reads a TOML like ``configs/tokens-generate-ml100k.toml``::

    name = "knowledge-ml100k"
    runner = "local"            # or "ray": the same job on Ray Data (map_batches over an actor pool)
    batch_size = 8              # prompts per batch; finished rows are flushed after every batch
    [dataset]
    name = "ml-100k"
    [split]                     # user profiles read the training part only (KAR's prefix)
    kind = "leave_one_out"
    [generator]                 # any registered backend: llama-cpp, hf, openai (vLLM, ...), toy
    backend = "llama-cpp"
    model = "smollm2-135m"
    [[tasks]]
    kind = "item"
    template = "item_facts"     # a variant of prompts/templates/knowledge.toml (or prompt_file)
    max_tokens = 96

Each task writes ``<output.dir>/<task name>/<fingerprint>/outputs.parquet`` (see
:mod:`llm4rec.tokens.store`) with QC flags, ``qc.md`` / ``qc.json`` and ``manifest.json``.

Resuming after a kill: rows of finished batches are in ``outputs.partial.parquet`` (replaced
atomically after every batch) and are not asked again; prompts answered inside the batch that was
cut short are replayed by the LM cache (the backend commits every answer). A finished version is
not generated again (``overwrite=True`` rebuilds its file, from the cache). A complete run (no
``limit``) writes ``<task>/LATEST``, the version a model reading the task folder uses; a sample never does.

The Ray runner builds the generator once per actor from its config (the LM cache file is shared:
SQLite in WAL mode), streams finished batches back to the driver, which writes the same partial
file: a killed Ray run resumes the same way, with either runner.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator
from tqdm.auto import tqdm

from llm4rec.config import Config, check_path_name, load_named_config
from llm4rec.errors import ConfigError
from llm4rec.eval.config import DatasetSpec, SplitSpec
from llm4rec.lm.cache import default_cache_path
from llm4rec.lm.config import GeneratorConfig, LlamaCppConfig, make_generator, shared_generator
from llm4rec.prompts.library import PromptSet
from llm4rec.tokens.inputs import MAX_PROFILE_ITEMS, Inputs, item_inputs, user_inputs
from llm4rec.tokens.qc import QCConfig, QCReport, check_frame, report
from llm4rec.tokens.store import (
    FINAL,
    LATEST,
    MANIFEST,
    PARTIAL,
    fingerprint,
    write_parquet_atomic,
    write_text_atomic,
)

log = logging.getLogger(__name__)

#: generator config keys that do not change what is generated (left out of the fingerprint)
RUNTIME_KEYS = frozenset({"cache_mode", "cache_path", "price", "n_threads", "concurrency", "timeout", "retry_budget",
                          "max_retries", "backoff", "api_key_env", "batch_size", "device"})


class TaskSpec(Config):
    """One generation task: which entities, which prompt, how long the answers may be."""

    kind: Literal["item", "user"] = "item"
    template: str = Field("item_facts", description="variant of prompts/templates/knowledge.toml (or prompt_file)")
    name: str | None = Field(None, description="folder name under the output dir (default: the template)")
    prompt_file: str | None = Field(None, description="TOML file whose tables override the built-in templates")
    noun: str = "movie"
    fields: list[str] = Field(default_factory=lambda: ["title", "year", "genres"],
                              description="catalog fields shown (and used for the catalog-only text)")
    max_tokens: int = Field(96, ge=1)
    temperature: float = Field(0.0, ge=0)
    seed: int = 0
    limit: int | None = Field(None, ge=1, description="only the first N items / users (tests, estimates)")
    max_history: int = Field(MAX_PROFILE_ITEMS, ge=1, description="user tasks: cap of KAR's history prefix")

    @property
    def display(self) -> str:
        return check_path_name(self.name or self.template, "task name")


class RaySpec(Config):
    address: str | None = Field(None, description="join a cluster (ray://host:10001); default: a local one")
    workers: int = Field(2, ge=1, description="generator actors (each loads the model once)")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local cluster (default: Ray's)")
    cpus_per_worker: float = Field(1.0, gt=0)


class GenOutputSpec(Config):
    dir: str = "runs/{name}"


class GenerateConfig(Config):
    name: str = "generate"
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    split: SplitSpec = Field(default_factory=SplitSpec)
    generator: GeneratorConfig = Field(default_factory=LlamaCppConfig)
    tasks: list[TaskSpec] = Field(min_length=1)
    runner: Literal["local", "ray"] = "local"
    batch_size: int = Field(8, ge=1, description="prompts per batch (finished rows are flushed after each)")
    ray: RaySpec = Field(default_factory=RaySpec)
    qc: QCConfig = Field(default_factory=QCConfig)
    output: GenOutputSpec = Field(default_factory=GenOutputSpec)
    progress: bool | None = Field(None, description="progress bar (default: on a terminal)")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        return check_path_name(v, "job name")

    def output_dir(self) -> Path:
        return Path(self.output.dir.format(name=self.name))


def load_generate_config(path: str | Path) -> GenerateConfig:
    """Read and validate a generation TOML; errors name the file and the offending key."""
    return load_named_config(GenerateConfig, path, "generation config")


@dataclass
class GenerationResult:
    """One finished task: where its rows are, what they cost, how good they are."""

    task: str
    folder: Path
    fingerprint: str
    rows: int
    resumed: int  # rows found finished (partial file or finished version) instead of generated
    seconds: float
    prompt_tokens: int
    completion_tokens: int
    qc: QCReport
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def outputs(self) -> Path:
        return self.folder / FINAL


# ------------------------------------------------------------------------------------------ inputs
def task_inputs(cfg: GenerateConfig, task: TaskSpec) -> Inputs:
    """The items or users of ``task`` (users: the training part of the config's split)."""
    from llm4rec.eval.runner import load_data, make_run_split

    ds = load_data(cfg.dataset)
    if task.kind == "item":
        inputs = item_inputs(ds.catalog, task.fields)
    else:
        split = make_run_split(ds, cfg.dataset, cfg.split)
        inputs = user_inputs(split.train, ds.user_ids, task.fields, task.max_history)
    return inputs.take(task.limit) if task.limit else inputs


def prompts_for(task: TaskSpec, inputs: Inputs) -> list[str]:
    """Chat messages of every row, as JSON strings (what is stored and what the actors receive)."""
    ps = PromptSet("knowledge", task.template, task.prompt_file)
    if task.kind == "item" and "history" in str(ps.template.get("user", "")):
        raise ConfigError(f"template {task.template!r} is a user template; this task's kind is 'item'")
    return [json.dumps(ps.messages(noun=task.noun, **slots), ensure_ascii=False) for slots in inputs.slots]


def _generator_identity(gen: Config) -> dict[str, Any]:
    return {k: v for k, v in gen.model_dump(mode="json").items() if k not in RUNTIME_KEYS}


def task_fingerprint(cfg: GenerateConfig, task: TaskSpec, inputs: Inputs, prompts: list[str]) -> str:
    """Prompt template, generator config (runtime keys excluded), generation parameters and data."""
    ps = PromptSet("knowledge", task.template, task.prompt_file)
    data = fingerprint({"keys": inputs.keys, "prompts": prompts, "catalog": inputs.catalog_text})
    return fingerprint({"kind": task.kind, "template": ps.template, "generator": _generator_identity(cfg.generator),
                        "params": {"max_tokens": task.max_tokens, "temperature": task.temperature,
                                   "seed": task.seed}, "data": data})


# ------------------------------------------------------------------------------------------ runners
def _params(task: TaskSpec) -> dict[str, Any]:
    return {"max_tokens": task.max_tokens, "temperature": task.temperature, "seed": task.seed}


def _rows(ids: list[int], comps: list[Any]) -> list[dict[str, Any]]:
    return [{"i": i, "text": c.text, "prompt_tokens": int(c.prompt_tokens),
             "completion_tokens": int(c.completion_tokens), "finish_reason": c.finish_reason or ""}
            for i, c in zip(ids, comps, strict=True)]


def _run_local(gen_cfg: Config, task: TaskSpec, prompts: list[str], todo: list[int], batch_size: int
               ) -> Iterator[list[dict[str, Any]]]:
    gen = shared_generator(gen_cfg)
    for s in range(0, len(todo), batch_size):
        ids = todo[s:s + batch_size]
        comps = gen.chat_completions([json.loads(prompts[i]) for i in ids], **_params(task))
        yield _rows(ids, comps)


class _GenerateActor:
    """A Ray Data actor: builds the generator once, answers batches of prompts."""

    def __init__(self, generator: dict[str, Any], params: dict[str, Any]) -> None:
        self.gen = make_generator(generator)
        self.params = params

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = [int(i) for i in batch["i"]]
        comps = self.gen.chat_completions([json.loads(str(p)) for p in batch["prompt"]], **self.params)
        rows = _rows(ids, comps)
        return {k: np.array([r[k] for r in rows], dtype=object if k in ("text", "finish_reason") else np.int64)
                for k in ("i", "text", "prompt_tokens", "completion_tokens", "finish_reason")}


def _run_ray(cfg: GenerateConfig, gen_cfg: Config, task: TaskSpec, prompts: list[str], todo: list[int]
             ) -> Iterator[list[dict[str, Any]]]:
    from llm4rec.jobs.ray_jobs import _ray, init

    ray = _ray()
    init(address=cfg.ray.address, num_cpus=cfg.ray.num_cpus)
    ds = ray.data.from_items([{"i": i, "prompt": prompts[i]} for i in todo])
    out = ds.map_batches(_GenerateActor, fn_constructor_kwargs={"generator": gen_cfg.model_dump(mode="json"),
                                                                "params": _params(task)},
                         batch_size=cfg.batch_size, compute=ray.data.ActorPoolStrategy(size=cfg.ray.workers),
                         num_cpus=cfg.ray.cpus_per_worker, batch_format="numpy")
    for b in out.iter_batches(batch_format="numpy", batch_size=None):
        yield [{"i": int(i), "text": str(t), "prompt_tokens": int(p), "completion_tokens": int(c),
                "finish_reason": str(f)} for i, t, p, c, f in
               zip(b["i"], b["text"], b["prompt_tokens"], b["completion_tokens"], b["finish_reason"], strict=True)]


def _worker_generator(cfg: GenerateConfig) -> Config:
    """The generator config the workers build: the LM cache path made explicit (actors of a local
    cluster then share the driver's cache file)."""
    gen: Config = cfg.generator
    cached = "cache_path" in type(gen).model_fields and getattr(gen, "cache_mode", "off") != "off"
    if cached and getattr(gen, "cache_path", None) is None:
        gen = gen.model_copy(update={"cache_path": str(default_cache_path())})
    return gen


# ------------------------------------------------------------------------------------------ the job
def _frame(inputs: Inputs, prompts: list[str], results: dict[int, dict[str, Any]]) -> pd.DataFrame:
    order = sorted(results)
    return pd.DataFrame({
        "key": [inputs.keys[i] for i in order],
        "index": np.asarray([int(inputs.index[i]) for i in order], dtype=np.int64),
        "prompt": [prompts[i] for i in order],
        "text": [results[i]["text"] for i in order],
        "prompt_tokens": np.asarray([results[i]["prompt_tokens"] for i in order], dtype=np.int64),
        "completion_tokens": np.asarray([results[i]["completion_tokens"] for i in order], dtype=np.int64),
        "finish_reason": [results[i]["finish_reason"] for i in order],
        "catalog_text": [inputs.catalog_text[i] for i in order],
        "year": pd.array([inputs.year[i] if inputs.year else None for i in order], dtype="Int64"),
        "genres": [inputs.genres[i] if inputs.genres else "" for i in order],
    })


def _resume(folder: Path, inputs: Inputs) -> dict[int, dict[str, Any]]:
    """Rows a killed run finished (the partial file), by input position."""
    partial = folder / PARTIAL
    if not partial.exists():
        return {}
    try:
        df = pd.read_parquet(partial)
    except (OSError, ValueError) as exc:  # cannot happen through the atomic writer; be safe anyway
        log.warning("ignoring unreadable %s (%s)", partial, exc)
        return {}
    pos = {k: i for i, k in enumerate(inputs.keys)}
    return {pos[str(r.key)]: {"text": str(r.text), "prompt_tokens": int(r.prompt_tokens),
                              "completion_tokens": int(r.completion_tokens), "finish_reason": str(r.finish_reason)}
            for r in df.itertuples(index=False) if str(r.key) in pos}


def run_task(cfg: GenerateConfig, task: TaskSpec, *, inputs: Inputs | None = None, overwrite: bool = False,
             progress: bool | None = None) -> GenerationResult:
    """Generate (or resume, or find finished) one task of ``cfg``."""
    inputs = inputs if inputs is not None else task_inputs(cfg, task)
    prompts = prompts_for(task, inputs)
    fp = task_fingerprint(cfg, task, inputs, prompts)
    root = cfg.output_dir() / task.display
    folder = root / fp[:16]
    start = time.perf_counter()
    if (folder / FINAL).exists() and not overwrite:
        df = pd.read_parquet(folder / FINAL)
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8")) if (folder / MANIFEST).exists() else {}
        checked = check_frame(df.drop(columns=["qc_flags", "qc_ok"], errors="ignore"), task.max_tokens, cfg.qc)
        return GenerationResult(task.display, folder, fp, len(df), len(df), 0.0, int(df["prompt_tokens"].sum()),
                                int(df["completion_tokens"].sum()), report(checked, cfg.qc), manifest)
    folder.mkdir(parents=True, exist_ok=True)
    results = {} if overwrite else _resume(folder, inputs)
    resumed = len(results)
    todo = [i for i in range(len(inputs)) if i not in results]
    gen_cfg = _worker_generator(cfg)
    batches = (_run_ray(cfg, gen_cfg, task, prompts, todo) if cfg.runner == "ray"
               else _run_local(gen_cfg, task, prompts, todo, cfg.batch_size))
    show = progress if progress is not None else (cfg.progress if cfg.progress is not None else sys.stderr.isatty())
    tokens = 0
    with tqdm(total=len(inputs), initial=resumed, desc=f"generate {task.display}", unit=task.kind,
              disable=not show) as bar:
        for rows in batches:
            for r in rows:
                results[r["i"]] = r
                tokens += r["completion_tokens"]
            write_parquet_atomic(_frame(inputs, prompts, results), folder / PARTIAL)
            elapsed = max(time.perf_counter() - start, 1e-9)
            bar.set_postfix(tokens=tokens, tok_s=f"{tokens / elapsed:.1f}", refresh=False)
            bar.update(len(rows))
    seconds = time.perf_counter() - start
    checked = check_frame(_frame(inputs, prompts, results), task.max_tokens, cfg.qc)
    qc = report(checked, cfg.qc)
    write_parquet_atomic(checked, folder / FINAL)
    (folder / PARTIAL).unlink(missing_ok=True)
    ptok, ctok = int(checked["prompt_tokens"].sum()), int(checked["completion_tokens"].sum())
    manifest = {"fingerprint": fp, "task": task.model_dump(mode="json"),
                "generator": _generator_identity(cfg.generator), "dataset": cfg.dataset.model_dump(mode="json"),
                "split": cfg.split.model_dump(mode="json") if task.kind == "user" else None, "runner": cfg.runner,
                "rows": len(checked), "resumed_rows": resumed, "generated_rows": len(todo), "seconds": seconds,
                "prompt_tokens": ptok, "completion_tokens": ctok,
                "completion_tokens_per_row": ctok / max(1, len(checked)),
                "seconds_per_generated_row": seconds / max(1, len(todo)), "qc": qc.as_dict()}
    write_text_atomic(json.dumps(manifest, indent=1, default=str), folder / MANIFEST)
    write_text_atomic(qc.markdown(f"QC of {cfg.name}/{task.display} ({fp[:16]})"), folder / "qc.md")
    write_text_atomic(json.dumps(qc.as_dict(), indent=1), folder / "qc.json")
    if task.limit is None:  # a sample (--limit) never becomes the version models read from the task folder
        write_text_atomic(fp[:16] + "\n", root / LATEST)
    return GenerationResult(task.display, folder, fp, len(checked), resumed, seconds, ptok, ctok, qc, manifest)


def generate(cfg: GenerateConfig | str | Path, *, overwrite: bool = False, progress: bool | None = None,
             runner: Literal["local", "ray"] | None = None, limit: int | None = None,
             tasks: Sequence[str] | None = None) -> list[GenerationResult]:
    """Run the tasks of a generation config (a :class:`GenerateConfig` or a TOML path): all, or those
    named in ``tasks``."""
    config = cfg if isinstance(cfg, GenerateConfig) else load_generate_config(cfg)
    if runner is not None:
        config = config.model_copy(update={"runner": runner})
    chosen = [t for t in config.tasks if tasks is None or t.display in tasks]
    if tasks is not None and len(chosen) != len(set(tasks)):
        raise ConfigError(f"unknown task in {list(tasks)}; the config has {[t.display for t in config.tasks]}")
    out = []
    for task in chosen:
        if limit is not None:
            task = task.model_copy(update={"limit": limit})
        out.append(run_task(config, task, overwrite=overwrite, progress=progress))
    return out
