"""Backend blocks shared by the LLM tests (a module of its own: ``conftest`` names are ambiguous)."""

#: the real small model, one thread (tests run next to other jobs on 2 cores, where one thread is
#: faster), through the default record/replay cache: a second test run is answered from the cache
SMOL = {"backend": "llama-cpp", "model": "smollm2-135m", "n_threads": 1, "n_ctx": 1024}
#: deterministic stand-in with the Generator interface (llm4rec.lm.toy, a test double)
TOY = {"backend": "toy"}
