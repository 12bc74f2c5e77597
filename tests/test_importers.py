"""Importing models trained with the tutorials' own code: PyTorch state dicts and Keras HDF5."""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from sentiment_core.checkpoint import load_checkpoint, save_checkpoint
from sentiment_core.cli import main
from sentiment_core.explain.trace import trace
from sentiment_core.importers import ImportOptions, ModelImportError, import_model, read_vocabulary
from sentiment_core.predict import Predictor
from tests.tutorial_models import (RNN, SarcasmModel, SentimentLSTM, keras_gru, keras_lstm, keras_simple_rnn,
                                   train_a_little)

WORDS = "the movie was good bad great awful plot acting fine boring loved hated it".split()


def _pre_pad(rows, seq_length):
    """The UCI tutorial's pad_features: zeros before the text, cut to seq_length."""
    features = np.zeros((len(rows), seq_length), dtype=int)
    for i, row in enumerate(rows):
        if row:
            features[i, -len(row):] = np.array(row)[:seq_length]
    return features


def _gatescope_ids(bundle, tokens_rows, length, side="pre"):
    """The same texts as GateScope ids, padded like the tutorial."""
    ids = [bundle.vocab.lookup_indices(tokens) for tokens in tokens_rows]
    return torch.tensor(_pre_pad(ids, length) if side == "pre" else
                        [row + [0] * (length - len(row)) for row in ids])


@pytest.fixture
def uci_files(tmp_path):
    torch.manual_seed(0)
    vocab_to_int = {w: i for i, w in enumerate(WORDS, 1)}  # the tutorial: index 0 is padding
    (tmp_path / "vocab_to_int.json").write_text(json.dumps(vocab_to_int))
    net = SentimentLSTM(len(vocab_to_int) + 1, 1, embedding_dim=6, hidden_dim=5, n_layers=2)
    rng = np.random.default_rng(0)
    texts = [list(rng.choice(WORDS, size=rng.integers(2, 8))) for _ in range(16)]
    features = torch.from_numpy(_pre_pad([[vocab_to_int[w] for w in t] for t in texts], 10))
    labels = torch.tensor([float("good" in t or "great" in t) for t in texts])

    def loss(model, x, y):
        out, _ = model(x, model.init_hidden(x.shape[0]))
        return nn.BCELoss()(out, y)

    train_a_little(net, [(features, labels)], loss)
    torch.save(net.state_dict(), tmp_path / "sentiment_lstm.pt")
    return tmp_path, net, texts, features, vocab_to_int


def test_uci_state_dict_and_word_index_import_as_the_tutorials_model(uci_files):
    folder, net, texts, features, _ = uci_files
    imported = import_model(folder / "sentiment_lstm.pt", folder / "vocab_to_int.json",
                            ImportOptions(max_len=10, padding="pre", head_input="last_step"))
    cfg = imported.bundle.model_config
    assert (cfg.cell, cfg.num_layers, cfg.emb_dim, cfg.hidden_dim, cfg.bidirectional) == ("lstm", 2, 6, 5, False)
    assert (cfg.head, cfg.output, cfg.packed) == ("per_step", "sigmoid", False)
    with torch.no_grad():
        expected, _ = net(features, net.init_hidden(len(texts)))
        got = torch.softmax(imported.bundle.model(_gatescope_ids(imported.bundle, texts, 10)), dim=1)[:, 1]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)
    # a text of exactly max_len tokens needs no padding: Predictor gives the tutorial's number
    full = [w for w in (texts[0] * 10)][:10]
    with torch.no_grad():
        tutorial, _ = net(torch.tensor([[WORDS.index(w) + 1 for w in full]]), net.init_hidden(1))
    prediction = Predictor(imported.bundle).predict([" ".join(full)])[0]
    assert prediction.probabilities["positive"] == pytest.approx(float(tutorial), abs=1e-6)


def test_imported_bundle_saves_loads_and_explains(uci_files, tmp_path):
    folder, *_ = uci_files
    bundle = import_model(folder / "sentiment_lstm.pt", folder / "vocab_to_int.json",
                          ImportOptions(max_len=10, head_input="last_step")).bundle
    path = save_checkpoint(tmp_path / "out" / "uci.safetensors", bundle)
    loaded = load_checkpoint(path)
    text = "the movie was great"
    assert Predictor(loaded).predict([text])[0].probabilities == pytest.approx(
        Predictor(bundle).predict([text])[0].probabilities)
    traced = trace(loaded, text)
    assert traced.prediction.probabilities[1] == pytest.approx(Predictor(loaded).predict([text])[0].probabilities["positive"],
                                                    abs=1e-5)


def test_torchtext_itos_packed_bilstm(tmp_path):
    torch.manual_seed(1)
    itos = ["<unk>", "<pad>", *WORDS]  # torchtext's order: <unk> 0, <pad> 1
    (tmp_path / "itos.json").write_text(json.dumps(itos))
    net = RNN(len(itos), 6, 4, 1, n_layers=2, bidirectional=True, dropout=0.5, pad_idx=1)
    texts = [["the", "movie", "was", "good"], ["bad", "plot"], ["loved", "it", "great", "acting", "fine"]]
    length = max(map(len, texts))
    batch = torch.tensor([[itos.index(w) for w in t] + [1] * (length - len(t)) for t in texts]).T  # (T, B)
    lengths = torch.tensor([len(t) for t in texts])
    train_a_little(net, [((batch, lengths), torch.tensor([1.0, 0.0, 1.0]))],
                   lambda m, x, y: nn.BCEWithLogitsLoss()(m(*x).squeeze(1), y))
    torch.save(net.state_dict(), tmp_path / "tut2-model.pt")
    bundle = import_model(tmp_path / "tut2-model.pt", tmp_path / "itos.json",
                          ImportOptions(packed=True, padding="post", max_len=100)).bundle
    cfg = bundle.model_config
    assert (cfg.cell, cfg.bidirectional, cfg.num_layers, cfg.head, cfg.output) == ("lstm", True, 2, "linear", "sigmoid")
    with torch.no_grad():
        expected = torch.sigmoid(net(batch, lengths).squeeze(1))
    got = [p.probabilities["positive"] for p in Predictor(bundle).predict([" ".join(t) for t in texts])]
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-6)
    assert bundle.vocab["<unk>"] == 1 and bundle.vocab["movie"] != 1
    assert Predictor(bundle).predict(["zebra"])[0].unknown_share == 1.0


def test_sarcasm_mlp_head_with_mean_pooling(tmp_path):
    torch.manual_seed(2)
    (tmp_path / "word_index.json").write_text(json.dumps({w: i for i, w in enumerate(WORDS, 1)}))
    net = SarcasmModel(len(WORDS) + 1, 7, 5).eval()
    torch.save(net.state_dict(), tmp_path / "sarcasm.pth")
    bundle = import_model(tmp_path / "sarcasm.pth", tmp_path / "word_index.json",
                          ImportOptions(max_len=8, labels=["not sarcastic", "sarcastic"])).bundle
    cfg = bundle.model_config
    assert (cfg.head, cfg.head_hidden, cfg.pooling, cfg.output) == ("mlp", 24, "mean", "sigmoid")
    texts = [["the", "plot", "was", "boring"], ["loved", "it"]]
    with torch.no_grad():
        expected = net(torch.from_numpy(_pre_pad([[WORDS.index(w) + 1 for w in t] for t in texts], 8)))
        got = torch.softmax(bundle.model(_gatescope_ids(bundle, texts, 8)), dim=1)[:, 1]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)
    assert bundle.label_names == ["not sarcastic", "sarcastic"]


def test_pickled_whole_model_is_refused(uci_files):
    folder, net, *_ = uci_files
    torch.save(net, folder / "whole_model.pt")  # the tutorial's other habit: pickling the object
    with pytest.raises(ModelImportError, match=r"whole pickled model.*state_dict\(\)"):
        import_model(folder / "whole_model.pt", folder / "vocab_to_int.json")


def test_unknown_layers_and_bad_vocabularies_get_clear_messages(uci_files):
    folder, net, *_ = uci_files
    torch.save({**net.state_dict(), "conv.weight": torch.zeros(3, 3, 3)}, folder / "extra.pt")
    with pytest.raises(ModelImportError, match="cannot place: conv.weight"):
        import_model(folder / "extra.pt", folder / "vocab_to_int.json")
    (folder / "bad.json").write_text(json.dumps({"good": 1, "bad": 1}))
    with pytest.raises(ModelImportError, match="share index 1"):
        read_vocabulary(folder / "bad.json")
    (folder / "itos.txt").write_text("<unk>\n<pad>\nthe\nthe\n")
    with pytest.raises(ModelImportError, match="appears twice"):
        read_vocabulary(folder / "itos.txt")
    with pytest.raises(ModelImportError, match="unknown model file type"):
        import_model(folder / "vocab_to_int.json", folder / "vocab_to_int.json")


def test_cli_import_writes_a_bundle(uci_files, capsys):
    folder, *_ = uci_files
    out = folder / "uci.safetensors"
    assert main(["import", str(folder / "sentiment_lstm.pt"), "--vocab", str(folder / "vocab_to_int.json"),
                 "--out", str(out), "--max-len", "50", "--padding", "pre", "--head-input", "last_step",
                 "--labels", "negative,positive"]) == 0
    assert "LSTM x2" in capsys.readouterr().out
    bundle = load_checkpoint(out)
    assert bundle.encoding.max_len == 50 and bundle.card["imported_from"] == "sentiment_lstm.pt"
    assert main(["import", str(folder / "sentiment_lstm.pt"), "--vocab", str(folder / "vocab_to_int.json"),
                 "--out", str(out), "--labels", "a,b,c"]) == 2
    assert "3 label names for a model with 2 classes" in capsys.readouterr().err


# ------------------------------------------------------------------ Keras, written with h5py

V, E, H = len(WORDS) + 1, 5, 4


def _keras_weights(rng, cell, inputs, hidden):
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    kernel = rng.normal(0, 0.5, (inputs, gates * hidden)).astype(np.float32)
    recurrent = rng.normal(0, 0.5, (hidden, gates * hidden)).astype(np.float32)
    bias = rng.normal(0, 0.5, (2, gates * hidden) if cell == "gru" else (gates * hidden,)).astype(np.float32)
    return kernel, recurrent, bias


def _write_keras2(path, layers):
    """Keras 2's model.save('m.h5') layout: model_weights/<layer>/<layer>/.../<name>:0."""
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = [name.encode() for name, _ in layers]
        for name, weights in layers:
            for sub, array in weights.items():
                root.create_dataset(f"{name}/{name}/{sub}", data=array)


@pytest.mark.parametrize("cell,reference", [("simple_rnn", keras_simple_rnn), ("lstm", keras_lstm),
                                            ("gru", keras_gru)])
def test_keras_cells_match_numpy_keras_equations(tmp_path, cell, reference):
    rng = np.random.default_rng(3)
    embeddings = rng.normal(0, 1, (V, E)).astype(np.float32)
    kernel, recurrent, bias = _keras_weights(rng, cell, E, H)
    dense_k, dense_b = rng.normal(0, 1, (H, 1)).astype(np.float32), np.array([0.1], dtype=np.float32)
    cell_dir = {"simple_rnn": "simple_rnn_cell", "lstm": "lstm_cell", "gru": "gru_cell"}[cell]
    _write_keras2(tmp_path / "model.h5", [
        ("embedding", {"embeddings:0": embeddings}),
        (cell, {f"{cell_dir}/kernel:0": kernel, f"{cell_dir}/recurrent_kernel:0": recurrent, f"{cell_dir}/bias:0": bias}),
        ("dense", {"kernel:0": dense_k, "bias:0": dense_b}),
    ])
    (tmp_path / "word_index.json").write_text(json.dumps({w: i for i, w in enumerate(WORDS, 1)}))
    bundle = import_model(tmp_path / "model.h5", tmp_path / "word_index.json", ImportOptions(max_len=6)).bundle
    assert bundle.model_config.cell == {"simple_rnn": "rnn", "lstm": "lstm", "gru": "gru"}[cell]
    text = ["great", "plot", "boring", "acting"]
    ids = _pre_pad([[WORDS.index(w) + 1 for w in text]], 6)[0]  # pad_sequences' default: pre
    h = reference(embeddings[ids], kernel, recurrent, bias)
    expected = 1 / (1 + np.exp(-(h @ dense_k + dense_b)))
    with torch.no_grad():
        got = torch.softmax(bundle.model(_gatescope_ids(bundle, [text], 6)), dim=1)[0, 1]
    assert float(got) == pytest.approx(float(expected[0]), abs=1e-5)


def test_keras3_bidirectional_gru_softmax_from_a_keras_file(tmp_path):
    """Keras 3's .keras zip: layers/<name>/[forward_layer|backward_layer]/cell/vars/<i>."""
    rng = np.random.default_rng(4)
    embeddings = rng.normal(0, 1, (V, E)).astype(np.float32)
    fwd, bwd = _keras_weights(rng, "gru", E, H), _keras_weights(rng, "gru", E, H)
    dense_k, dense_b = rng.normal(0, 1, (2 * H, 3)).astype(np.float32), rng.normal(0, 1, 3).astype(np.float32)
    weights = tmp_path / "model.weights.h5"
    with h5py.File(weights, "w") as f:
        f.create_dataset("layers/embedding/vars/0", data=embeddings)
        for side, arrays in (("forward_layer", fwd), ("backward_layer", bwd)):
            for i, array in enumerate(arrays):
                f.create_dataset(f"layers/bidirectional/{side}/cell/vars/{i}", data=array)
        f.create_dataset("layers/dense/vars/0", data=dense_k)
        f.create_dataset("layers/dense/vars/1", data=dense_b)
        for i in range(4):  # Adam's state, saved beside the layers by model.save()
            f.create_dataset(f"optimizer/vars/{i}", data=np.zeros((3, 2), np.float32))
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        archive.write(weights, "model.weights.h5")
    (tmp_path / "word_index.json").write_text(json.dumps({"<OOV>": 1, **{w: i for i, w in enumerate(WORDS, 2)}}))
    bundle = import_model(tmp_path / "model.keras", tmp_path / "word_index.json",
                          ImportOptions(max_len=5, labels=["negative", "neutral", "positive"])).bundle
    cfg = bundle.model_config
    assert (cfg.cell, cfg.bidirectional, cfg.output, cfg.num_classes) == ("gru", True, "softmax", 3)
    text = ["loved", "the", "acting"]
    ids = _pre_pad([[WORDS.index(w) + 2 for w in text]], 5)[0]
    x = embeddings[ids]
    h = np.concatenate([keras_gru(x, *fwd), keras_gru(x[::-1], *bwd)])
    logits = h @ dense_k + dense_b
    expected = np.exp(logits) / np.exp(logits).sum()
    with torch.no_grad():
        got = torch.softmax(bundle.model(_gatescope_ids(bundle, [text], 5)), dim=1)[0]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)
    assert bundle.vocab["zebra"] == 1  # Keras' <OOV> became GateScope's <unk>


def test_keras_gru_without_reset_after_is_refused(tmp_path):
    rng = np.random.default_rng(5)
    kernel, recurrent, _ = _keras_weights(rng, "gru", E, H)
    _write_keras2(tmp_path / "old.h5", [
        ("embedding", {"embeddings:0": rng.normal(size=(V, E)).astype(np.float32)}),
        ("gru", {"gru_cell/kernel:0": kernel, "gru_cell/recurrent_kernel:0": recurrent,
                 "gru_cell/bias:0": np.zeros(3 * H, dtype=np.float32)}),
        ("dense", {"kernel:0": np.zeros((H, 1), np.float32), "bias:0": np.zeros(1, np.float32)}),
    ])
    (tmp_path / "w.json").write_text(json.dumps({w: i for i, w in enumerate(WORDS, 1)}))
    with pytest.raises(ModelImportError, match="reset_after=False"):
        import_model(tmp_path / "old.h5", tmp_path / "w.json")


def test_imported_bundles_serve_through_the_api_and_the_registry(uci_files, tmp_path):
    from fastapi.testclient import TestClient

    from sentiment_core.api import create_app
    from sentiment_core.registry import ModelRegistry

    folder, *_ = uci_files
    bundle = import_model(folder / "sentiment_lstm.pt", folder / "vocab_to_int.json",
                          ImportOptions(max_len=10, head_input="last_step")).bundle
    shipped = tmp_path / "pretrained"
    save_checkpoint(shipped / "uci.safetensors", bundle)
    assert ModelRegistry(shipped, tmp_path / "runs").load("uci").bundle.model_config.head == "per_step"
    client = TestClient(create_app(shipped, tmp_path / "runs", default_model="uci"))
    got = client.post("/predict", json={"text": "the plot was awful"}).json()["predictions"][0]
    expected = Predictor(bundle).predict(["the plot was awful"])[0]
    assert got["probabilities"]["positive"] == pytest.approx(expected.probabilities["positive"], rel=1e-6)
    assert client.post("/explain", json={"text": "the plot was awful"}).status_code == 200


def test_bidirectional_sigmoid_trajectory_has_two_class_scores(tmp_path):
    from sentiment_core.explain.trajectory import trajectory

    torch.manual_seed(1)
    itos = ["<unk>", "<pad>", *WORDS]
    (tmp_path / "itos.txt").write_text("\n".join(itos) + "\n")
    torch.save(RNN(len(itos), 6, 4, 1, 1, True, 0.0, 1).state_dict(), tmp_path / "m.pt")
    bundle = import_model(tmp_path / "m.pt", tmp_path / "itos.txt", ImportOptions(packed=True, padding="post")).bundle
    traj = trajectory(bundle, "the movie was good")
    assert not traj.available and traj.forward_scores.shape == (4, 2)
    np.testing.assert_array_equal(traj.forward_scores[:, 0], 0.0)


def test_keras_tokenizer_json_and_text_itos_vocabularies(tmp_path):
    word_index = {"<OOV>": 1, "good": 2, "bad": 3}
    (tmp_path / "tokenizer.json").write_text(json.dumps(
        {"class_name": "Tokenizer", "config": {"num_words": 10, "word_index": json.dumps(word_index)}}))
    assert read_vocabulary(tmp_path / "tokenizer.json") == [None, "<OOV>", "good", "bad"]
    (tmp_path / "itos.txt").write_text("<unk>\n<pad>\ngood\nbad\n")
    assert read_vocabulary(tmp_path / "itos.txt") == ["<unk>", "<pad>", "good", "bad"]


# ------------------------------------------------------------------ Keras 3 tutorial fixtures (issue 24)

KERAS_FIXTURES = Path(__file__).parent / "fixtures" / "tutorials" / "keras"
KERAS_FAMILIES = ("simple_rnn", "lstm", "gru", "bilstm")


def _keras_fixture(family, file_name="model.h5", **options):
    """A committed Keras 3 fixture imported through GateScope, and what Keras predicted."""
    folder = KERAS_FIXTURES / family
    expected = json.loads((folder / "expected.json").read_text())
    pad = expected["pad_sequences"]
    bundle = import_model(folder / file_name, folder / "tokenizer.json",
                          ImportOptions(max_len=pad["maxlen"], padding=pad.get("padding", "pre"),
                                        truncation=pad.get("truncating", "pre"), labels=expected["labels"],
                                        **options)).bundle
    return bundle, expected


def _keras_ids_as_gatescope(bundle, tokenizer_json, keras_ids, maxlen, side):
    """The tutorial's padded Keras ids as GateScope ids (pads stripped, padded on ``side``)."""
    from sentiment_core.encoding import pad_batch

    itos = read_vocabulary(tokenizer_json)
    rows = [[bundle.vocab[itos[i]] for i in row if i != 0] for row in keras_ids]
    return torch.from_numpy(pad_batch(rows, maxlen, side))


@pytest.mark.parametrize("file_name", ["model.h5", "model.keras"])
@pytest.mark.parametrize("family", KERAS_FAMILIES)
def test_keras3_fixture_predicts_what_keras_predicted_on_its_token_ids(family, file_name):
    """Keras 3's model.save('x.h5') (no ':0' in names) and '.keras', mask_zero, pooling, relu fc1, stacked BiLSTM."""
    bundle, expected = _keras_fixture(family, file_name)
    cfg = bundle.model_config
    assert {"simple_rnn": ("rnn", False, 1, "last", "linear", False),
            "lstm": ("lstm", False, 1, "last", "linear", False),
            "gru": ("gru", False, 1, "mean", "mlp", True),  # mask_zero -> packed; GlobalAveragePooling1D -> mean
            "bilstm": ("lstm", True, 2, "last", "linear", True)}[family] == (
        cfg.cell, cfg.bidirectional, cfg.num_layers, cfg.pooling, cfg.head, cfg.packed)
    pad = expected["pad_sequences"]
    side = "post" if cfg.packed else pad.get("padding", "pre")
    ids = _keras_ids_as_gatescope(bundle, KERAS_FIXTURES / family / "tokenizer.json", expected["ids"], pad["maxlen"], side)
    with torch.no_grad():
        batch = torch.softmax(bundle.model(ids), dim=1).numpy()
        alone = np.concatenate([torch.softmax(bundle.model(ids[i:i + 1]), dim=1).numpy() for i in range(len(ids))])
    assert np.abs(batch - np.array(expected["probabilities"])).max() < 1e-5
    assert np.abs(alone - np.array(expected["probabilities"])).max() < 1e-5


@pytest.mark.parametrize("file_name", ["model.h5", "model.keras"])
@pytest.mark.parametrize("family", KERAS_FAMILIES)
def test_keras3_fixture_predicts_what_keras_predicted_on_raw_text_alone_and_in_batches(family, file_name):
    """Raw text through the Keras Tokenizer preset (read from tokenizer.json) and pad_sequences' settings."""
    bundle, expected = _keras_fixture(family, file_name, preset="keras")
    labels, texts = expected["labels"], expected["texts"]
    predictor = Predictor(bundle)
    want = np.array(expected["probabilities"])
    batch = [[p.probabilities[c] for c in labels] for p in predictor.predict(texts)]
    backwards = [[p.probabilities[c] for c in labels] for p in predictor.predict(texts[::-1])][::-1]
    alone = [[predictor.predict([t])[0].probabilities[c] for c in labels] for t in texts]
    for got in (batch, backwards, alone):
        assert np.abs(np.array(got) - want).max() < 1e-5


def test_keras_fixture_script_rebuilds_the_committed_fixtures(tmp_path):
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed (requirements-dev.txt)")
    script = Path(__file__).parents[1] / "scripts" / "make_keras_fixtures.py"
    done = subprocess.run([sys.executable, str(script), "--out", str(tmp_path), "--only", "simple_rnn"],
                          env={**os.environ, "KERAS_BACKEND": "torch"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "simple_rnn" / "tokenizer.json").read_text() == \
        (KERAS_FIXTURES / "simple_rnn" / "tokenizer.json").read_text()
    built = json.loads((tmp_path / "simple_rnn" / "expected.json").read_text())
    committed = json.loads((KERAS_FIXTURES / "simple_rnn" / "expected.json").read_text())
    assert built["ids"] == committed["ids"]
    np.testing.assert_allclose(built["probabilities"], committed["probabilities"], atol=1e-6)


def test_tutorial_parameter_count_has_no_phantom_unk_row_and_keras_counts_keras_biases():
    from sentiment_core.importers import tutorial_config
    from sentiment_core.models import model_summary

    for family in KERAS_FAMILIES:
        bundle, expected = _keras_fixture(family)
        counted = tutorial_config(bundle)
        assert sum(r.count for r in model_summary(counted, keras_biases=True)) == expected["keras_parameters"]
    bundle, _ = _keras_fixture("simple_rnn")  # Tokenizer() without an oov_token: GateScope adds an <unk> row
    assert bundle.model_config.vocab_size == tutorial_config(bundle).vocab_size + 1


# ------------------------------------------------------------------ Keras settings: honoured or refused

def _keras3_h5(path, *layers, functional=False, keras2=False):
    """Keras 3's model.save('m.h5'): the description in model_config, each layer's weights listed in
    its weight_names, names without ':0'.

    Args:
        layers: (class name, config, [(weight path, array), ...]) input to output.
        functional: describe a Functional model instead of a Sequential one.
        keras2: Keras 2's names instead: <layer>/<weight>:0, without Keras 3's 'sequential/'.
    """
    described = [{"class_name": "InputLayer", "config": {"name": "input_layer", "batch_shape": [None, 6]}}]
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = [config["name"].encode() for _, config, _ in layers]
        for layer_class, config, weights in layers:
            described.append({"module": "keras.layers", "class_name": layer_class, "config": config})
            group = root.create_group(config["name"])
            paths = [f"{config['name']}/{w}:0" if keras2 else f"sequential/{config['name']}/{w}" for w, _ in weights]
            group.attrs["weight_names"] = [p.encode() for p in paths]
            for weight_path, (_, array) in zip(paths, weights):
                group.create_dataset(weight_path, data=array)
        model = {"class_name": "Functional" if functional else "Sequential",
                 "config": {"name": "sequential", "layers": described}}
        f.attrs["model_config"] = json.dumps(model)
    return path


def _k_embedding(rng, **settings):
    return ("Embedding", {"name": "embedding", "input_dim": V, "output_dim": E, **settings},
            [("embeddings", rng.normal(0, 1, (V, E)).astype(np.float32))])


def _k_rnn(rng, layer_class="LSTM", name="lstm", inputs=E, **settings):
    cell = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}[layer_class]
    arrays = _keras_weights(rng, cell, inputs, H)
    return (layer_class, {"name": name, "units": H, **settings},
            [(f"{cell}_cell/{w}", a) for w, a in zip(("kernel", "recurrent_kernel", "bias"), arrays)])


def _k_bidirectional(rng, merge_mode="concat", **settings):
    fwd, bwd = _keras_weights(rng, "lstm", E, H), _keras_weights(rng, "lstm", E, H)
    inner = {"class_name": "LSTM", "config": {"name": "forward_lstm", "units": H, **settings}}
    names = ("kernel", "recurrent_kernel", "bias")
    return ("Bidirectional", {"name": "bidirectional", "merge_mode": merge_mode, "layer": inner},
            [(f"forward_lstm/lstm_cell/{w}", a) for w, a in zip(names, fwd)]
            + [(f"backward_lstm/lstm_cell/{w}", a) for w, a in zip(names, bwd)])


def _k_dense(rng, units, activation, name="dense", inputs=H):
    return ("Dense", {"name": name, "units": units, "activation": activation},
            [("kernel", rng.normal(0, 1, (inputs, units)).astype(np.float32)),
             ("bias", rng.normal(0, 0.5, units).astype(np.float32))])


def _word_index(tmp_path):
    path = tmp_path / "word_index.json"
    path.write_text(json.dumps({w: i for i, w in enumerate(WORDS, 1)}))
    return path


def test_keras_dense_after_an_rnn_reads_the_final_state_through_relu(tmp_path):
    """The head default comes from the file: no return_sequences, so fc1 reads the final state (was 'mean')."""
    rng = np.random.default_rng(6)
    emb, rnn = _k_embedding(rng), _k_rnn(rng)
    fc1, fc2 = _k_dense(rng, 4, "relu"), _k_dense(rng, 1, "sigmoid", name="dense_1", inputs=4)
    bundle = import_model(_keras3_h5(tmp_path / "m.h5", emb, rnn, fc1, fc2), _word_index(tmp_path),
                          ImportOptions(max_len=6)).bundle
    assert (bundle.model_config.head, bundle.model_config.pooling) == ("mlp", "last")
    text = ["great", "plot", "boring"]
    ids = _pre_pad([[WORDS.index(w) + 1 for w in text]], 6)[0]
    h = keras_lstm(emb[2][0][1][ids], *(a for _, a in rnn[2]))
    hidden = np.maximum(h @ fc1[2][0][1] + fc1[2][1][1], 0)
    expected = 1 / (1 + np.exp(-(hidden @ fc2[2][0][1] + fc2[2][1][1])))
    with torch.no_grad():
        got = torch.softmax(bundle.model(_gatescope_ids(bundle, [text], 6)), dim=1)[0, 1]
    assert float(got) == pytest.approx(float(expected[0]), abs=1e-5)


def test_keras2_h5_with_its_description_and_a_weights_only_file_with_head_input(tmp_path):
    """Keras 2 names (':0', listed in weight_names) read through the description; a file without one
    takes --head-input, since nothing in it says otherwise."""
    rng = np.random.default_rng(11)
    layers = (_k_embedding(rng), _k_rnn(rng, "GRU", "gru", return_sequences=True),
              ("GlobalMaxPooling1D", {"name": "global_max_pooling1d"}, []), _k_dense(rng, 3, "softmax"))
    labels = ["negative", "neutral", "positive"]
    described = import_model(_keras3_h5(tmp_path / "m.h5", *layers, keras2=True), _word_index(tmp_path),
                             ImportOptions(max_len=6, labels=labels)).bundle
    assert (described.model_config.cell, described.model_config.pooling) == ("gru", "max")
    with h5py.File(tmp_path / "m.h5", "a") as f:
        del f.attrs["model_config"]
    weights_only = import_model(tmp_path / "m.h5", _word_index(tmp_path),
                                ImportOptions(max_len=6, labels=labels, head_input="max")).bundle
    ids = _gatescope_ids(described, [["great", "plot"], ["awful", "acting", "it"]], 6)
    with torch.no_grad():
        assert torch.equal(described.model(ids), weights_only.model(ids))
    assert any("weights only" in note for note in weights_only.card["import_notes"])


def test_keras_mask_zero_is_honoured_as_packed_reading(tmp_path):
    """Embedding(mask_zero=True): Keras skips the padding steps, so the pad row's vector must not be read."""
    rng = np.random.default_rng(7)
    emb, rnn, dense = _k_embedding(rng, mask_zero=True), _k_rnn(rng, "GRU", "gru"), _k_dense(rng, 1, "sigmoid")
    bundle = import_model(_keras3_h5(tmp_path / "m.h5", emb, rnn, dense), _word_index(tmp_path),
                          ImportOptions(max_len=6)).bundle
    assert bundle.model_config.packed
    assert any("mask_zero=True" in note for note in bundle.card["import_notes"])
    text = ["loved", "the", "acting"]
    h = keras_gru(emb[2][0][1][[WORDS.index(w) + 1 for w in text]], *(a for _, a in rnn[2]))  # the real words only
    expected = 1 / (1 + np.exp(-(h @ dense[2][0][1] + dense[2][1][1])))
    ids = torch.tensor([[bundle.vocab[w] for w in text] + [0, 0, 0]])
    with torch.no_grad():
        got = torch.softmax(bundle.model(ids), dim=1)[0, 1]
    assert float(got) == pytest.approx(float(expected[0]), abs=1e-5)


def _refused_keras_models(rng):
    """(id, layers, options, the message) for each Keras setting GateScope cannot compute."""
    lstm_seq = _k_rnn(rng, return_sequences=True)
    return [
        ("go_backwards", [_k_embedding(rng), _k_rnn(rng, go_backwards=True), _k_dense(rng, 1, "sigmoid")], {},
         r"'lstm' has go_backwards=True.*one-directional"),
        ("tanh hidden Dense", [_k_embedding(rng), _k_rnn(rng), _k_dense(rng, 4, "tanh"),
                               _k_dense(rng, 1, "sigmoid", "dense_1", 4)], {}, r"activation='tanh'.*fc1 -> ReLU"),
        ("Dense(2, sigmoid)", [_k_embedding(rng), _k_rnn(rng), _k_dense(rng, 2, "sigmoid")], {},
         r"Dense\(2, activation='sigmoid'\).*need not add up to 1"),
        ("Dense(1, relu) output", [_k_embedding(rng), _k_rnn(rng), _k_dense(rng, 1, "relu")], {},
         r"Dense\(1, activation='relu'\)"),
        ("merge_mode sum", [_k_embedding(rng), _k_bidirectional(rng, "sum"), _k_dense(rng, 1, "sigmoid")], {},
         "merge_mode='sum'"),
        ("forward go_backwards", [_k_embedding(rng), _k_bidirectional(rng, go_backwards=True),
                                  _k_dense(rng, 1, "sigmoid", inputs=2 * H)], {}, "wraps a layer with go_backwards"),
        ("per-step Dense", [_k_embedding(rng), lstm_seq, _k_dense(rng, 1, "sigmoid")], {}, "reads every time step"),
        ("hard_sigmoid", [_k_embedding(rng), _k_rnn(rng, recurrent_activation="hard_sigmoid"),
                          _k_dense(rng, 1, "sigmoid")], {}, "recurrent_activation='hard_sigmoid'"),
        ("relu SimpleRNN", [_k_embedding(rng), _k_rnn(rng, "SimpleRNN", "simple_rnn", activation="relu"),
                            _k_dense(rng, 1, "sigmoid")], {}, "activation='relu'; GateScope's cells use tanh"),
        ("stateful", [_k_embedding(rng), _k_rnn(rng, stateful=True), _k_dense(rng, 1, "sigmoid")], {},
         "stateful=True"),
        ("GRU reset_after=False", [_k_embedding(rng), _k_rnn(rng, "GRU", "gru", reset_after=False),
                                   _k_dense(rng, 1, "sigmoid")], {}, "reset_after=False"),
        ("Conv1D", [_k_embedding(rng), ("Conv1D", {"name": "conv1d"}, []), _k_rnn(rng),
                    _k_dense(rng, 1, "sigmoid")], {}, "'conv1d' is a Conv1D, which GateScope does not import"),
        ("masked max pooling, pre-padded", [_k_embedding(rng, mask_zero=True), lstm_seq,
                                            ("GlobalMaxPooling1D", {"name": "global_max_pooling1d"}, []),
                                            _k_dense(rng, 1, "sigmoid")], {"padding": "pre"}, "ignores the mask"),
        ("--head-input against the file", [_k_embedding(rng), _k_rnn(rng), _k_dense(rng, 1, "sigmoid")],
         {"head_input": "mean"}, "the head input 'mean' disagrees"),
    ]


@pytest.mark.parametrize("case", range(14))
def test_keras_settings_gatescope_cannot_compute_are_refused_by_name(tmp_path, case):
    """Each of these was read before and silently computed something else (or refused with a misleading message)."""
    layer_id, layers, options, message = _refused_keras_models(np.random.default_rng(8))[case]
    path = _keras3_h5(tmp_path / "m.h5", *layers)
    with pytest.raises(ModelImportError, match=message):
        import_model(path, _word_index(tmp_path), ImportOptions(max_len=6, **options))


def test_keras_weights_of_a_layer_the_description_lacks_are_refused(tmp_path):
    rng = np.random.default_rng(9)
    path = _keras3_h5(tmp_path / "m.h5", _k_embedding(rng), _k_rnn(rng), _k_dense(rng, 1, "sigmoid"))
    with h5py.File(path, "a") as f:  # a Dense the description does not list: the model would silently change
        f.create_dataset("model_weights/dense_9/sequential/dense_9/kernel", data=np.ones((1, 1), np.float32))
        f["model_weights"].attrs["layer_names"] = [b"embedding", b"lstm", b"dense", b"dense_9"]
    with pytest.raises(ModelImportError, match="'dense_9', a layer its model description does not list"):
        import_model(path, _word_index(tmp_path), ImportOptions(max_len=6))


def test_a_model_inside_a_model_is_refused(tmp_path):
    rng = np.random.default_rng(10)
    path = _keras3_h5(tmp_path / "m.h5", _k_embedding(rng), ("Sequential", {"name": "inner", "layers": []}, []),
                      _k_dense(rng, 1, "sigmoid"), functional=True)
    with pytest.raises(ModelImportError, match="'inner' is a whole model inside the model"):
        import_model(path, _word_index(tmp_path))


# ------------------------------------------------------------------ the seeds' PyTorch models (issue 24)


class StackedSarcasm(nn.Module):
    """The stacked sarcasm model: two separate nn.LSTM modules instead of num_layers=2."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn1 = nn.LSTM(embedding_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.rnn2 = nn.LSTM(2 * hidden_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden_dim, 1)

    def forward(self, x):
        out, _ = self.rnn1(self.embedding(x))
        out, _ = self.rnn2(out)
        return torch.sigmoid(self.fc(out.mean(dim=1))).squeeze(1)


class GloveSarcasm(nn.Module):
    """The GloVe sarcasm model: BiLSTM(8), mean pooling, a square fc1 (16 -> 16), fc2; ``fc2_first``
    defines fc2 before fc1 (the forward order still runs fc1 first)."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim=8, fc2_first=False):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True, bidirectional=True)
        if fc2_first:
            self.fc2 = nn.Linear(2 * hidden_dim, 1)
        self.fc1 = nn.Linear(2 * hidden_dim, 2 * hidden_dim)
        if not fc2_first:
            self.fc2 = nn.Linear(2 * hidden_dim, 1)

    def forward(self, x):
        out, _ = self.lstm(self.embedding(x))
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(out.mean(dim=1))))).squeeze(1)


SARCASM_TEXTS = [["the", "plot", "was", "boring"], ["loved", "it", "great", "acting"], ["bad"]]


def _matches_torch_tutorial(net, tmp_path, **options):
    net = net.eval()
    torch.save(net.state_dict(), tmp_path / "model.pt")
    imported = import_model(tmp_path / "model.pt", _word_index(tmp_path), ImportOptions(max_len=6, **options))
    with torch.no_grad():
        expected = net(torch.from_numpy(_pre_pad([[WORDS.index(w) + 1 for w in t] for t in SARCASM_TEXTS], 6)))
        got = torch.softmax(imported.bundle.model(_gatescope_ids(imported.bundle, SARCASM_TEXTS, 6)), dim=1)[:, 1]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)
    return imported


def test_separate_stacked_lstm_modules_import_as_one_stack(tmp_path):
    torch.manual_seed(3)
    imported = _matches_torch_tutorial(StackedSarcasm(V, 6, 4), tmp_path, head_input="mean")
    cfg = imported.bundle.model_config
    assert (cfg.cell, cfg.num_layers, cfg.bidirectional, cfg.pooling) == ("lstm", 2, True, "mean")
    assert any("rnn1 -> rnn2" in note for note in imported.notes)


@pytest.mark.parametrize("fc2_first", [False, True])
def test_a_square_fc1_is_ordered_before_fc2_by_name_and_definition(tmp_path, fc2_first):
    torch.manual_seed(4)
    imported = _matches_torch_tutorial(GloveSarcasm(V, 6, fc2_first=fc2_first), tmp_path)
    assert (imported.bundle.model_config.head, imported.bundle.model_config.head_hidden) == ("mlp", 16)


# ------------------------------------------------------------------ a pickled vocabulary (issue 24)


class _Planted:
    """Unpickling this makes a folder: proof that a file was unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("file_name", ["vocab_to_int.pkl", "vocab.json", "vocab.txt"])
def test_a_pickled_vocabulary_is_refused_and_never_unpickled(tmp_path, uci_files, file_name):
    import pickle

    folder = uci_files[0]
    planted = tmp_path / "unpickled"
    (tmp_path / file_name).write_bytes(pickle.dumps({"good": 1, "bad": _Planted(str(planted))}))
    with pytest.raises(ModelImportError, match=r"pickled Python object.*Save it as JSON"):
        import_model(folder / "sentiment_lstm.pt", tmp_path / file_name)
    torch.save({"good": 1}, tmp_path / "vocab.pt")  # torch.save writes a zip of pickles
    with pytest.raises(ModelImportError, match="Save it as JSON"):
        read_vocabulary(tmp_path / "vocab.pt")
    assert not planted.exists()
