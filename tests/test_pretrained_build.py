"""The rebuild path of pretrained/: a tiny recipe goes end to end (train, float16 bundle,
card, Markdown, index) on a small generated dataset."""
import json

import torch

from sentiment_core import pretrained as P
from sentiment_core.checkpoint import load_checkpoint
from sentiment_core.data import make_negation, make_splits
from sentiment_core.encoding import EncodingConfig
from sentiment_core.pipeline import VocabConfig
from sentiment_core.trainer import TrainConfig

TINY_MODEL = dict(hidden_dim=8, num_layers=1, pooling="max", embeddings="glove",
                  cell="lstm", bidirectional=True)


def tiny_build_data() -> P.BuildData:
    splits = make_splits(make_negation(n_examples=300, seed=1), val_fraction=0.1, test_fraction=0.2, seed=0)
    return P.BuildData(movie=splits, eval_sets={key: (list(splits.label_names), splits.test) for key in P.MOVIE_SETS})


def test_recipe_builds_a_bundle_a_card_and_the_index(tmp_path):
    recipe = P.Recipe("tiny", "Tiny test model", "movie", TINY_MODEL,
                      TrainConfig(epochs=2, batch_size=16, device="cpu"), EncodingConfig(max_len=40),
                      vocab_config=VocabConfig(min_freq=1, glove_words=300))
    out = tmp_path / "out"
    card = P.build_one(recipe, tiny_build_data(), out, tmp_path / "fixtures")
    bundle = load_checkpoint(out / "tiny.safetensors")
    assert bundle.model.embedding.weight.dtype == torch.float32 and len(bundle.vocab) == card["vocab_size"]
    assert card["vocab_config"]["glove_words"] == 300
    assert card["encoding"]["max_len"] == 40 == bundle.encoding.max_len and "max_len" not in card["train_config"]
    assert bundle.vocab.get_itos()[-300:] == [w for w in bundle.vocab.get_itos()[2:] if bundle.vocab.freqs[w] == 0]
    assert json.loads((out / "tiny.card.json").read_text())["metrics"] == card["metrics"] == bundle.card["metrics"]
    assert set(card["metrics"]) == set(P.MOVIE_SETS) and len(card["demo"]) == len(P.DEMO_SENTENCES)
    assert card["file_bytes"] == (out / "tiny.safetensors").stat().st_size
    markdown = (out / "tiny.md").read_text()
    assert "Reviews longer than 40 tokens are cut" in markdown
    assert f"{card['vocab_size']:,}-word vocabulary (300 of them GloVe words" in markdown
    for key in P.MOVIE_SETS:  # a held-out fixture slice was written for each evaluation set
        assert card["fixture_metrics"][key]["count"] == len(P.read_fixture(P.fixture_path(key, tmp_path / "fixtures")))
    index = P.write_index(out).read_text()
    assert "| [tiny](tiny.md) |" in index and "| 91% |" in index  # the IMDb target
