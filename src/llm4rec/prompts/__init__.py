"""Prompt library: templates as TOML data files, history representations, in-context demonstrations.

Templates live in ``prompts/templates/<kind>.toml`` (one table per variant); a user file with the
same layout can replace them (``load_templates(kind, path)``). Prompts for log-prob scoring are
plain text (the history first, so its KV state is shared by every candidate); prompts for
generation are chat messages, to which the backend applies the model's own chat template.
"""

from llm4rec.prompts.library import (
    HISTORY_STYLES,
    PromptSet,
    Template,
    clean_text,
    format_demos,
    format_history,
    item_texts,
    load_templates,
    render,
)

__all__ = ["HISTORY_STYLES", "PromptSet", "Template", "clean_text", "format_demos", "format_history", "item_texts",
           "load_templates", "render"]
