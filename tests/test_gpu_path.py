"""The GPU path. Tests marked ``cuda`` run where a CUDA GPU is present (``pytest -m cuda``;
``benchmarks/gpu_check.sh`` runs them) and are skipped elsewhere. The unmarked tests check, on
any machine, the parts of that path that need no GPU: the device choice, and cuDNN switched off
only while gradients flow through the recurrent layers."""
import copy

import numpy as np
import pytest
import torch

from sentiment_core.checkpoint import load_checkpoint, save_checkpoint
from sentiment_core.device import resolve_device
from sentiment_core.explain import explain, gradient_connectivity, integrated_gradients, saliency
from sentiment_core.models import build_model
from sentiment_core.pipeline import VocabConfig, train_on_splits
from sentiment_core.trainer import TrainConfig

from conftest import tiny_config

HAS_CUDA = torch.cuda.is_available()
cuda = pytest.mark.cuda
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU on this machine (torch.cuda.is_available() is False)")
IDS = torch.tensor([[3, 5, 7, 2, 9, 4, 11]])


def train_tiny(splits, device: str, **model_options):
    return train_on_splits(splits, {"emb_dim": 8, "hidden_dim": 8, **model_options},
                           TrainConfig(epochs=3, batch_size=32, lr=0.01, device=device),
                           vocab_config=VocabConfig(min_freq=1))


@cuda
@needs_cuda
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("packed", [True, False])
def test_trains_on_cuda(splits, cell, bidirectional, packed):
    out = train_tiny(splits, "cuda", cell=cell, bidirectional=bidirectional, packed=packed)
    assert out.fit.device.startswith("cuda") and out.fit.stop_reason == "completed"
    assert out.test.accuracy > 0.85
    assert all(np.isfinite(h.train_loss) for h in out.fit.history)


@cuda
@needs_cuda
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_attributions_on_cuda_match_cpu_and_keep_cudnn_on(cell, bidirectional):
    torch.manual_seed(0)
    model = build_model(tiny_config(cell=cell, bidirectional=bidirectional, num_layers=2)).eval()
    on_gpu = copy.deepcopy(model).cuda()
    assert torch.backends.cudnn.enabled
    for name, run in (("integrated gradients", lambda m: integrated_gradients(m, IDS, target=1).scores),
                      ("saliency", lambda m: saliency(m, IDS, target=1).gradient_x_input),
                      ("connectivity", lambda m: gradient_connectivity(m, IDS, target=1).norms)):
        np.testing.assert_allclose(run(on_gpu), run(model), atol=1e-4, err_msg=name)
        assert torch.backends.cudnn.enabled, f"{name} left cuDNN switched off"
        assert not on_gpu.training, f"{name} changed the model's mode"
    full = explain(on_gpu, IDS)
    assert full.prediction.label == explain(model, IDS).prediction.label
    assert abs(full.integrated_gradients.delta) < 0.05


@cuda
@needs_cuda
def test_checkpoint_trained_on_cuda_loads_on_cpu(splits, tmp_path):
    out = train_tiny(splits, "cuda", cell="lstm", bidirectional=True)
    path = save_checkpoint(tmp_path / "gpu.safetensors", out.bundle)
    loaded = load_checkpoint(path, device="cpu")
    assert next(loaded.model.parameters()).device.type == "cpu"
    ids, lengths = torch.tensor([[3, 5, 7, 2]]), torch.tensor([4])
    with torch.no_grad():
        expected = out.bundle.model.cuda()(ids.cuda(), lengths).cpu()
        np.testing.assert_allclose(loaded.model(ids, lengths).numpy(), expected.numpy(), atol=1e-5)


def test_device_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.parametrize("explainer", ["integrated_gradients", "saliency", "gradient_connectivity"])
def test_cudnn_is_off_only_while_gradients_flow(tiny_model, monkeypatch, explainer):
    """cuDNN's RNN backward works only in train mode, so the attribution switches it off (rather
    than switching the model to train mode, which would turn dropout on) and restores it after."""
    seen = []
    tiny_model.embedding.register_forward_hook(
        lambda *_: seen.append(("forward", torch.is_grad_enabled(), torch.backends.cudnn.enabled)))
    real_grad = torch.autograd.grad

    def recording_grad(*args, **kwargs):
        seen.append(("backward", True, torch.backends.cudnn.enabled))
        return real_grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", recording_grad)
    run = {"integrated_gradients": integrated_gradients, "saliency": saliency,
           "gradient_connectivity": gradient_connectivity}[explainer]
    assert torch.backends.cudnn.enabled
    run(tiny_model, IDS, target=1)
    assert torch.backends.cudnn.enabled, "cuDNN was left switched off"
    with_grad = [enabled for _, grad, enabled in seen if grad]
    assert any(kind == "backward" for kind, *_ in seen) and with_grad
    assert not any(with_grad), f"cuDNN was on while gradients flowed: {seen}"


def test_overlapping_attributions_in_two_threads_leave_cudnn_on():
    """Streamlit explains for several sessions at once. With nested ``cudnn.flags`` blocks, a thread
    leaving after another had entered restored "off" and left cuDNN off for every later run."""
    import threading

    from sentiment_core.explain.inputs import no_cudnn

    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()

    def first():
        with no_cudnn():
            a_inside.set()
            b_inside.wait(5)
        a_left.set()

    def second():
        a_inside.wait(5)
        with no_cudnn():
            b_inside.set()
            a_left.wait(5)
            assert not torch.backends.cudnn.enabled  # still off while this thread's gradients flow

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    assert torch.backends.cudnn.enabled
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert torch.backends.cudnn.enabled
