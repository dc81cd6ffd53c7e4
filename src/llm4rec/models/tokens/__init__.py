"""Paradigm 2 models (LLM tokens + RS): CTR models whose side features are generated (or catalog) texts."""
