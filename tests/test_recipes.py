"""Every tutorial recipe is a valid GateScope setup, and its parameter counts are the tutorial's."""
from __future__ import annotations

import pytest

from sentiment_core.data import CATALOGUE
from sentiment_core.encoding import EncodingConfig
from sentiment_core.models import model_summary
from sentiment_core.pipeline import VocabConfig
from sentiment_core.recipes import RECIPES, checked_count, recipe_config
from sentiment_core.trainer import TrainConfig

CHECKS = [(recipe, check) for recipe in RECIPES.values() for check in recipe.param_checks]


@pytest.mark.parametrize("recipe", RECIPES.values(), ids=list(RECIPES))
def test_every_recipe_is_a_valid_setup(recipe):
    assert recipe.dataset in CATALOGUE
    recipe_config(recipe, 1000)
    TrainConfig.from_dict(recipe.train)
    EncodingConfig.from_dict(recipe.encoding)
    VocabConfig(**recipe.vocab)
    assert recipe.published


@pytest.mark.parametrize("recipe,check", CHECKS, ids=[f"{r.key}:{c.expected}" for r, c in CHECKS])
def test_parameter_counts_are_the_tutorials(recipe, check):
    assert checked_count(recipe, check) == check.expected


def test_the_counts_cover_the_issue_numbers():
    expected = {c.expected for _, c in CHECKS}
    assert {21_537, 35_745, 2_920, 11_680, 400_000} <= expected


def test_keras_counting_drops_one_bias_per_gate_for_rnn_and_lstm_only():
    sarcasm = RECIPES["sarcasm_bilstm"]
    config = recipe_config(sarcasm, 2000)
    pytorch = sum(r.count for r in model_summary(config))
    keras = sum(r.count for r in model_summary(config, keras_biases=True))
    assert pytorch - keras == 2 * 4 * 24  # two directions x 4 gates x 24 units
    gru = recipe_config(sarcasm, 2000, cell="gru")
    assert sum(r.count for r in model_summary(gru)) == sum(r.count for r in model_summary(gru, keras_biases=True))


def _recorded(recipe, **changes):
    """config.json of a run started from ``recipe`` (the run module's own check writes it)."""
    from conftest import rule_splits
    from sentiment_core import runs
    from sentiment_core.recipes import recipe_settings

    groups = recipe_settings(recipe)
    for group, values in changes.items():
        groups[group] = {**groups[group], **values}
    return runs.validate_request(runs.RunRequest(
        rule_splits(60), groups["model"], groups["train"], {**groups["data"], "recipe": recipe.key},
        encoding=groups["encoding"], tokenizer=groups["tokenizer"], vocab=groups["vocab"]))


@pytest.mark.parametrize("key", list(RECIPES))
def test_a_run_with_the_recipes_settings_is_the_recipe(key):
    from sentiment_core.recipes import differences

    assert differences(RECIPES[key], _recorded(RECIPES[key])) == []


def test_a_changed_run_names_what_differs_from_the_recipe():
    from sentiment_core.recipes import differences

    recipe = RECIPES["airline_simple_rnn"]
    lines = differences(recipe, _recorded(recipe, model={"cell": "lstm", "hidden_dim": 32},
                                          data={"leave_out": ""}, tokenizer={"lowercase": False}))
    assert sorted(lines) == ["Cell: lstm (the tutorial: rnn)", "Hidden size: 32 (the tutorial: 40)",
                             "Leave out classes: none (the tutorial: neutral)", "Lowercase: off (the tutorial: on)"]
    assert differences(recipe, _recorded(recipe, train={"lr": 0.001})) == ["Learning rate: 0.001 (the tutorial: 0.003)"]
