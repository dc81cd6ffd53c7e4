"""Loading and rendering prompt templates; history and demonstration formatting."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from llm4rec.config import read_toml
from llm4rec.data.catalog import Catalog
from llm4rec.errors import ConfigError

TEMPLATE_DIR = Path(__file__).parent / "templates"
HistoryStyle = Literal["titles", "summary", "combined"]
HISTORY_STYLES: tuple[str, ...] = ("titles", "summary", "combined")

Template = dict[str, Any]
"""One template variant: a TOML table (strings with ``{field}`` slots, lists of choices, ...)."""


def render(template: str, /, **fields: Any) -> str:
    """Fill ``{field}`` slots; a slot without a value is a clear error naming it."""
    names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    missing = names - set(fields)
    if missing:
        raise ConfigError(f"prompt template needs {sorted(missing)} (given {sorted(fields)}): {template[:60]!r}")
    return template.format(**fields)


@lru_cache(maxsize=64)
def _read(path: str) -> dict[str, Template]:
    return read_toml(path)


def load_templates(kind: str, path: str | Path | None = None) -> dict[str, Template]:
    """All variants of one template kind (``likelihood``, ``pointwise``, ``listwise``, ...).

    ``path`` is a user TOML file with the same layout; its tables override the built-in ones.
    """
    builtin = TEMPLATE_DIR / f"{kind}.toml"
    if not builtin.exists():
        kinds = sorted(p.stem for p in TEMPLATE_DIR.glob("*.toml"))
        raise ConfigError(f"no prompt templates of kind {kind!r}; available: {kinds}")
    out = dict(_read(str(builtin)))
    if path is not None:
        try:
            out.update(_read(str(Path(path).expanduser())))
        except OSError as exc:
            raise ConfigError(f"cannot read prompt file {path}: {exc}") from exc
    return out


def template(kind: str, variant: str, path: str | Path | None = None) -> Template:
    """One template variant; an unknown name lists the known ones."""
    variants = load_templates(kind, path)
    if variant not in variants:
        raise ConfigError(f"no {kind} template {variant!r}; available: {sorted(variants)}")
    return variants[variant]


_SPACE = re.compile(r"\s+")
_BRACKET_ID = re.compile(r"\[\s*(\d+)\s*\]")
_SPECIAL = re.compile(r"<\|[^<>]{0,40}\|>|<\s*/?\s*[A-Za-z_][A-Za-z0-9_.|-]{0,40}\s*>")


def clean_text(text: str) -> str:
    """Item text made inert inside a prompt (every template receives item text through this).

    Control and format characters (incl. bidi overrides, zero-width) are dropped, every run of
    whitespace (newlines, tabs, Unicode line separators) becomes one space, ``[k]`` becomes
    ``(k)`` (so no text forges a candidate identifier) and special-token-like tags
    (``<|im_start|>``, ``</s>``, ``<end_of_turn>``) lose their angle brackets.
    """
    text = "".join(ch if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf") else ""
                   for ch in str(text))
    text = _SPACE.sub(" ", text).strip()
    text = _BRACKET_ID.sub(r"(\1)", text)
    return _SPECIAL.sub(lambda m: "(" + m.group(0)[1:-1].strip("|/ ") + ")", text)


def item_texts(catalog: Catalog, items: Sequence[int], fields: Sequence[str] | None) -> list[str]:
    """Items rendered by the catalog (the one rendering), restricted to ``fields`` that exist, and
    passed through :func:`clean_text` (catalog text is data: it cannot forge prompt structure)."""
    cols = [f for f in (fields or ()) if f in catalog.table.columns]
    return [clean_text(t) for t in catalog.text([int(i) for i in items], fields=cols or None)]


def format_history(texts: Sequence[str], style: HistoryStyle = "titles", *, recency: bool = False,
                   summary: str = "", noun: str = "item", path: str | Path | None = None) -> str:
    """The history block every prompt starts with (oldest first; ``recency`` adds the LLMRank
    recency-focused sentence naming the most recent item)."""
    tpl = load_templates("history", path)
    if style not in HISTORY_STYLES:
        raise ConfigError(f"unknown history style {style!r}; use one of {HISTORY_STYLES}")
    t = tpl[style]
    out = render(t["header"], noun=noun, summary=summary.strip())
    if "item" in t:
        out += "".join(render(t["item"], index=i + 1, text=x) for i, x in enumerate(texts))
    if recency and texts:
        out += render(tpl["recency"]["footer"], noun=noun, last=texts[-1])
    return out


def format_demos(demos: Sequence[tuple[Sequence[str], str]], noun: str = "item",
                 path: str | Path | None = None, variant: str = "default") -> str:
    """In-context demonstrations: each is (history prefix texts, the item that followed)."""
    if not demos:
        return ""
    t = template("icl", variant, path)
    body = "".join(render(t["demo"], items=t["separator"].join(h), target=y, noun=noun) for h, y in demos)
    return render(t["header"], noun=noun) + body + t.get("footer", "")


@dataclass(frozen=True)
class PromptSet:
    """The templates one ranker uses, resolved once from its config."""

    kind: str
    variant: str
    path: str | None = None

    @property
    def template(self) -> Template:
        return template(self.kind, self.variant, self.path)

    def fill(self, key: str, **fields: Any) -> str:
        """The template's ``key`` text with its slots filled (extra fields are ignored)."""
        t = self.template
        if key not in t:
            raise ConfigError(f"{self.kind} template {self.variant!r} has no {key!r} (a prompt file that "
                              f"overrides it must give every key: {sorted(t)})")
        return render(t[key], **fields)

    def messages(self, **fields: Any) -> list[dict[str, str]]:
        """Chat messages (``system`` optional, ``user``) of a generation template."""
        t = self.template
        msgs = [{"role": "system", "content": render(t["system"], **fields)}] if t.get("system") else []
        return [*msgs, {"role": "user", "content": render(t["user"], **fields)}]
