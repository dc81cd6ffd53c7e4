"""``python -m llm4rec.lm.llama_server ARGS``: llama-cpp-python's OpenAI-compatible server (same
arguments as ``python -m llama_cpp.server``) with llama.cpp's extra buffer types chosen as the
in-process backend chooses them (off on CPUs with AMX: see :mod:`llm4rec.lm.llama_cpp`).

``LLM4REC_LLAMA_EXTRA_BUFFERS=1`` / ``0`` forces them on / off.
"""

from __future__ import annotations

import os


def main() -> None:
    from llama_cpp.server.__main__ import main as serve

    from llm4rec.lm.llama_cpp import extra_buffers_default, model_params

    forced = os.environ.get("LLM4REC_LLAMA_EXTRA_BUFFERS")
    extra = extra_buffers_default(None if forced is None else forced not in ("0", "false", "no"))
    with model_params(extra):  # the server loads its model(s) inside main()
        serve()


if __name__ == "__main__":
    main()
