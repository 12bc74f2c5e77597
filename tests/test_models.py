"""One ModelConfig builds every architecture; parameter counts match PyTorch."""
import itertools

import pytest
import torch

from sentiment_core.embeddings import GLOVE_DIM
from sentiment_core.models import CELLS, POOLINGS, ModelConfig, build_model, model_summary
from tests.conftest import tiny_config


@pytest.mark.parametrize("cell,bidirectional,layers,pooling",
                         list(itertools.product(CELLS, [False, True], [1, 2], POOLINGS)))
def test_every_architecture_builds_and_summary_counts_match(cell, bidirectional, layers, pooling):
    config = tiny_config(cell=cell, bidirectional=bidirectional, num_layers=layers, pooling=pooling)
    model = build_model(config).eval()
    assert sum(r.count for r in model_summary(config)) == sum(p.numel() for p in model.parameters())
    ids = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2]])
    assert model(ids).shape == (2, 2)


def test_unknown_options_list_valid_ones():
    with pytest.raises(ValueError, match="rnn, lstm, gru"):
        tiny_config(cell="transformer")
    with pytest.raises(ValueError, match="last, mean, max, attention"):
        tiny_config(pooling="sum")
    with pytest.raises(ValueError, match="valid:"):
        ModelConfig.from_dict({**tiny_config().to_dict(), "heads": 4})


def test_lstm_summary_formula_mentions_two_biases():
    rows = model_summary(tiny_config(cell="lstm"))
    lstm = [r for r in rows if r.layer.startswith("lstm")][0]
    assert lstm.count == 4 * 8 * (8 + 8) + 2 * 4 * 8
    assert "b_ih" in lstm.shape and "b_hh" in lstm.shape


@pytest.mark.parametrize("cell,bidirectional,layers", list(itertools.product(CELLS, [False, True], [1, 2])))
def test_packed_model_ignores_padding(cell, bidirectional, layers):
    torch.manual_seed(0)
    for pooling in POOLINGS:
        model = build_model(tiny_config(cell=cell, pooling=pooling, bidirectional=bidirectional,
                                        num_layers=layers)).eval()
        alone = torch.cat([model(torch.tensor([[3, 4, 5]])), model(torch.tensor([[6, 7, 8, 9, 2, 3]]))])
        batched = model(torch.tensor([[3, 4, 5, 0, 0, 0], [6, 7, 8, 9, 2, 3]]))
        assert torch.allclose(alone, batched, atol=1e-5), pooling


def test_unpacked_model_reads_padding_like_the_tutorials():
    torch.manual_seed(0)
    model = build_model(tiny_config(cell="rnn", packed=False)).eval()
    assert not torch.allclose(model(torch.tensor([[3, 4, 5]])), model(torch.tensor([[3, 4, 5, 0, 0, 0]])))


def test_freeze_embeddings_and_glove_matrix_shape_check():
    config = tiny_config(freeze_embeddings=True)
    model = build_model(config)
    assert not model.embedding.weight.requires_grad
    with pytest.raises(ValueError, match="expected"):
        build_model(config, torch.zeros(5, 8))
    matrix = torch.ones(30, 8)
    model = build_model(config, matrix)
    assert torch.all(model.embedding.weight[0] == 0) and torch.all(model.embedding.weight[1] == 1)


def test_glove_embeddings_fix_the_embedding_size():
    assert tiny_config(embeddings="glove", emb_dim=16).emb_dim == GLOVE_DIM == 50
    assert ModelConfig.from_dict(tiny_config(embeddings="glove").to_dict()).emb_dim == GLOVE_DIM
    assert build_model(tiny_config(embeddings="glove")).embedding.weight.shape == (30, GLOVE_DIM)
    assert tiny_config(embeddings="random", emb_dim=16).emb_dim == 16


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_fast_path_trains_like_packed_sequences(cell):
    """The unpacked bidirectional path gives packing's outputs *and* gradients."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(1)
    model = build_model(tiny_config(cell=cell, bidirectional=True, num_layers=2, pooling="mean"))
    lengths = torch.tensor([6, 1, 4])
    embedded = torch.randn(3, 6, 8)
    embedded[torch.arange(6).unsqueeze(0) >= lengths.unsqueeze(1)] = 0.0

    fast_outputs, _ = model.encode(embedded, lengths)
    fast_grads = torch.autograd.grad(fast_outputs.pow(2).sum(), list(model.rnn.parameters()))
    packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
    packed_outputs, _ = pad_packed_sequence(model.rnn(packed)[0], batch_first=True, total_length=6)
    packed_grads = torch.autograd.grad(packed_outputs.pow(2).sum(), list(model.rnn.parameters()))
    assert torch.allclose(fast_outputs, packed_outputs, atol=1e-6)
    for fast, slow in zip(fast_grads, packed_grads):
        assert torch.allclose(fast, slow, atol=1e-5)
