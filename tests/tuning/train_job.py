"""Subprocess of the kill -9 test: tune a tiny LoRA with a checkpoint every step, slowly."""

from __future__ import annotations

import json
import sys
import time

from transformers import TrainerCallback

from llm4rec.lm.hf import HFGenerator
from llm4rec.tuning.generator import LoraMethod, TokenExample, TrainConfig, tune_generator


def examples(g: HFGenerator) -> list[TokenExample]:
    out = []
    for i in range(12):
        ans = " Yes" if i % 3 else " No"
        prompt = g.encode_prompt(f"The user liked movie number {i}.\n", "Will they like the next? Answer:")
        out.append(TokenExample(prompt, g.tokenizer(ans, add_special_tokens=False).input_ids))
    return out


class Slow(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        print(f"STEP {state.global_step}", flush=True)
        time.sleep(float(sys.argv[4]))


def main() -> None:
    model_dir, out_dir, runs_dir = sys.argv[1:4]
    g = HFGenerator(model_dir, cache_mode="off")
    cfg = TrainConfig(epochs=2, batch_size=2, grad_accum=2, lr=5e-3, save_steps=1, keep_checkpoints=2, seed=7)
    res = tune_generator(g, examples(g), LoraMethod(r=4, dropout=0.1), cfg, out_dir, runs_dir=runs_dir,
                         callbacks=[Slow()])
    print("RESULT " + json.dumps({"resumed_from_step": res.resumed_from_step, "steps": res.steps,
                                  "losses": res.losses}), flush=True)


if __name__ == "__main__":
    main()
