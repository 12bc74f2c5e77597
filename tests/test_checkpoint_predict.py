"""Bundles round-trip everything, reject bad files with clear messages, never unpickle."""
import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

from sentiment_core.checkpoint import Bundle, load_checkpoint, read_metadata, save_checkpoint
from sentiment_core.encoding import EncodingConfig
from sentiment_core.errors import CheckpointError
from sentiment_core.models import build_model
from sentiment_core.predict import Predictor
from sentiment_core.text import TokenizerConfig
from sentiment_core.vocab import Vocab
from tests.conftest import tiny_config

WORDS = [f"w{i}" for i in range(28)]


def make_bundle(**config) -> Bundle:
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>", *WORDS])
    model = build_model(tiny_config(**config)).eval()
    return Bundle(model, vocab, ["negative", "positive"], TokenizerConfig(kind="whitespace"),
                  EncodingConfig(max_len=5), {"lr": 0.1}, {"test_accuracy": 0.5}, [{"epoch": 1}],
                  {"name": "rule", "fingerprint": "abc"})


def test_round_trip_restores_model_and_description(tmp_path):
    bundle = make_bundle(cell="gru", bidirectional=True, pooling="attention")
    path = save_checkpoint(tmp_path / "m.safetensors", bundle)
    loaded = load_checkpoint(path)
    assert loaded.model_config == bundle.model_config
    assert loaded.vocab.get_itos() == bundle.vocab.get_itos()
    assert loaded.label_names == ["negative", "positive"] and loaded.encoding.max_len == 5
    assert loaded.metrics == {"test_accuracy": 0.5} and loaded.dataset["fingerprint"] == "abc"
    assert "torch" in loaded.versions
    ids = torch.tensor([[2, 3, 4]])
    assert torch.equal(loaded.model(ids), bundle.model(ids))



def test_bundle_from_before_the_encoding_group_loads(tmp_path):
    """Older bundles repeated max_len/padding/truncation among the training options."""
    bundle = make_bundle()
    bundle.encoding = EncodingConfig(max_len=7, padding="pre", truncation="pre")
    bundle.train_config = {"lr": 0.1, "max_len": 7, "padding": "pre", "truncation": "pre"}
    loaded = load_checkpoint(save_checkpoint(tmp_path / "old.safetensors", bundle))
    assert loaded.train_config == {"lr": 0.1}
    assert loaded.encoding == EncodingConfig(max_len=7, padding="pre", truncation="pre")
    assert read_metadata(tmp_path / "old.safetensors")["encoding"] == loaded.encoding.to_dict()

def test_half_precision_bundle_is_smaller_and_loads_as_float32(tmp_path):
    bundle = make_bundle(hidden_dim=64, emb_dim=64)
    full = save_checkpoint(tmp_path / "f.safetensors", bundle)
    half = save_checkpoint(tmp_path / "h.safetensors", bundle, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_checkpoint(half)
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    ids = torch.tensor([[2, 3, 4]])
    assert torch.allclose(loaded.model(ids), bundle.model(ids), atol=1e-2)


@pytest.mark.parametrize("content,message", [
    (b"", "too short"),
    (b"\x00" * 4, "too short"),
    (pickle.dumps({"weights": [1, 2]}), "pickle"),
    (b"PK\x03\x04" + b"\x00" * 100, "pickle"),
    (b"\xff" * 64, "not a valid model bundle"),
])
def test_bad_files_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_truncated_bundle(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", make_bundle())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated|damaged"):
        load_checkpoint(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a GateScope model bundle"):
        load_checkpoint(path)


def test_bundle_whose_json_lies_about_shapes(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", make_bundle())
    meta = read_metadata(path)
    meta["model_config"]["hidden_dim"] = 16
    tensors = {}
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        for k in f.keys():
            tensors[k] = f.get_tensor(k)
    save_file(tensors, str(path), metadata={"gatescope": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(path)


def test_predict_edge_cases():
    predictor = Predictor(make_bundle())
    empty, unknown, long, normal = predictor.predict(["", "zzz yyy", " ".join(WORDS[:9]), "w1 w2"])
    for p in (empty, unknown, long, normal):
        assert abs(sum(p.probabilities.values()) - 1) < 1e-5 and p.label in ("negative", "positive")
    assert "empty" in empty.notes[0]
    assert unknown.unknown_share == 1.0 and "vocabulary" in unknown.notes[0]
    assert long.truncated and len(long.tokens) == 5 and "cut" in long.notes[0]
    assert normal.notes == [] and not normal.truncated


def test_saved_bundle_is_readable_by_others(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", make_bundle())
    assert path.stat().st_mode & 0o044 == 0o044  # group/other can read (umask 022), unlike mkstemp's 0600


def test_header_length_starting_with_0x80_is_not_mistaken_for_a_pickle(tmp_path):
    """A safetensors header length whose low byte is 0x80 (1 save in 256) must load."""
    bundle = make_bundle()
    for pad in range(300):
        bundle.card = {"note": "x" * pad}
        path = save_checkpoint(tmp_path / "m.safetensors", bundle)
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert load_checkpoint(path).card == bundle.card


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_unpacked_pre_padded_model_predicts_as_it_was_evaluated(cell):
    """A ``packed=False`` model reads its pads, so the predictor pads the way the bundle's encoding
    records (here to a fixed 8 tokens, ``pre``) and never to a longer neighbour in the batch."""
    bundle = make_bundle(cell=cell, packed=False)
    bundle.encoding = EncodingConfig(max_len=8, padding="pre", fixed_length=True)
    longest, short = "w1 w2 w3 w4 w5 w6", "w7 w8"
    texts = [short, longest, "w9 w10 w11"]
    batch = Predictor(bundle).predict(texts)
    for text, in_batch in zip(texts, batch):
        alone = Predictor(bundle).predict([text])[0]
        assert alone.probabilities == pytest.approx(in_batch.probabilities, abs=1e-6)

    ids = [[bundle.vocab[w] for w in t.split()] for t in texts]
    with torch.no_grad():
        pre = torch.softmax(bundle.model(torch.tensor([[0] * (8 - len(r)) + r for r in ids])), dim=1)
        post = torch.softmax(bundle.model(torch.tensor([r + [0] * (8 - len(r)) for r in ids])), dim=1)
    predicted = torch.tensor([[p.probabilities[n] for n in bundle.label_names] for p in batch])
    assert torch.allclose(predicted, pre, atol=1e-6)
    # The pad side matters to this model: post-padding would have given other probabilities.
    assert not torch.allclose(predicted, post, atol=1e-4)
