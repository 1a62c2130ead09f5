import pytest

from fmscript.ai.params import ParameterError, default_root_name, parse_params, tuned_model_name
from fmscript.errors import FMScriptError


def test_defaults_are_the_ai_model_servers():
    p = parse_params("")
    assert (p.max_steps, p.learning_rate, p.lora_layers, p.batch_size) == (1000, 2e-4, 4, 1)
    assert (p.rank, p.scale, p.dropout, p.seed, p.mask_prompt) == (8, 20.0, 0.0, 0, True)
    assert p.fine_tuned_model_name is None


def test_json_strings_are_numbers():
    p = parse_params('{"max_steps": "1500", "learning_rate": "1e-4", "batch_size": "2", "lora_layers": 6,'
                     ' "fine_tuned_model_name": "product-expert-v2", "mask_prompt": "false", "alpha": 16}')
    assert (p.max_steps, p.learning_rate, p.batch_size, p.lora_layers) == (1500, 1e-4, 2, 6)
    assert p.mask_prompt is False and p.lora_scale == 2.0
    assert tuned_model_name(p.fine_tuned_model_name) == "fm-mlx-product-expert-v2"


@pytest.mark.parametrize("params, words", [
    ({"max_steps": -5}, "max_steps"), ({"max_steps": 0}, "max_steps"), ({"max_steps": "ten"}, "number"),
    ({"max_steps": 1.5}, "whole number"), ({"learning_rate": "fast"}, "learning_rate"),
    ({"learning_rate": 0}, "learning_rate"), ({"batch_size": 0}, "batch_size"), ({"batch_size": True}, "true/false"),
    ({"dropout": 1.5}, "dropout"), ({"fine_tuned_model_name": "a/b"}, "'/'"),
    ({"fine_tuned_model_name": "..up"}, "'..'"), ({"fine_tuned_model_name": "bad\x07name"}, "control"),
    ({"fine_tuned_model_name": "  "}, "empty"), ({"learning_rate": "nan"}, "learning_rate"),
])
def test_rejected_with_a_message(params, words):
    with pytest.raises(ParameterError) as ei:
        parse_params(params)
    assert words in ei.value.message


def test_not_json_or_not_an_object():
    with pytest.raises(FMScriptError, match="not valid JSON"):
        parse_params("{max_steps: 1")
    with pytest.raises(ParameterError, match="JSON object"):
        parse_params("[1]")


def test_unknown_keys_are_kept_and_warned():
    p = parse_params({"max_steps": 3, "temperature_schedule": "cosine"})
    assert p.unknown == {"temperature_schedule": "cosine"}
    assert "temperature_schedule" in p.warnings()[0]


def test_names():
    assert tuned_model_name("my fine  tuned model") == "fm-mlx-my-fine-tuned-model"
    assert tuned_model_name("fm-mlx-x") == "fm-mlx-x"
    assert default_root_name("google/codegemma-7b-it", 1753297022103) == "codegemma-7b-it-1753297022103"
