"""Training strategies for language models in recommendation: fine-tuning, prompt tuning, instruction tuning."""
