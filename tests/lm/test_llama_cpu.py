"""llama.cpp's extra buffer types: off on AMX CPUs (their kernels fault in VMs), restored after a load."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp")

import llama_cpp.llama_cpp as lib

from llm4rec.lm.config import generator_config
from llm4rec.lm.llama_cpp import cpu_has_amx, extra_buffers_default, model_params


def test_auto_is_off_exactly_on_amx_cpus():
    assert extra_buffers_default(None) is (not cpu_has_amx())
    assert extra_buffers_default(True) is True and extra_buffers_default(False) is False


def test_loads_inside_the_block_get_no_extra_buffers_and_the_factory_is_restored():
    original = lib.llama_model_default_params
    with model_params(False):
        assert lib.llama_model_default_params().use_extra_bufts is False
    assert lib.llama_model_default_params is original
    assert lib.llama_model_default_params().use_extra_bufts is True  # llama.cpp's own default
    with model_params(True):
        assert lib.llama_model_default_params is original


def test_factory_is_restored_when_the_load_fails():
    original = lib.llama_model_default_params
    with pytest.raises(RuntimeError), model_params(False):
        raise RuntimeError("load failed")
    assert lib.llama_model_default_params is original


def test_config_field_round_trips():
    cfg = generator_config({"backend": "llama-cpp", "extra_buffers": False})
    assert cfg.extra_buffers is False
    assert generator_config({"backend": "llama-cpp"}).extra_buffers is None
