"""Token attributions: integrated gradients on the embedding layer (Captum's method, fewer passes), gradient
saliency (Captum), and occlusion (leave-one-token-out or overwrite with ``<pad>``/``<unk>``).
Captum (about a second to import) loads on the first saliency or occlusion, not with this module.

Scores are per token (summed over embedding dimensions) for one target class; positive means
the token pushes the target class's probability (or logit) up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..models import SentimentRNN
from ..vocab import UNK_IDX
from .counterfactual import edited_batch
from .inputs import (ModelOrBundle, TextOrIds, check_target, label_names, logits_per_row, model_device,
                     no_cudnn, prepare_input, resolve, scores_of)
from .spec import EXPLAIN_SPEC

ZERO_ID = -1  # id of the all-zero embedding inside integrated gradients (the "zero" baseline)


class _PathEmbedding(nn.Module):
    """The model's own embedding lookup, plus id -1 for an all-zero vector so that the 'zero'
    baseline is exact. Captum attributes to this module's output, which is the embedding output
    the recurrent layers read; its hooks go on this private wrapper, never on the (possibly
    shared) model's own modules."""

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        self.embedding = embedding

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        known = (ids != ZERO_ID).unsqueeze(-1)  # (B, T, 1)
        return self.embedding(ids.clamp(min=0)) * known


def _forward(model: SentimentRNN, output: str, embed: nn.Module):
    """Captum forward function ``f(ids, lengths) -> (B, C)`` probabilities or logits."""

    def forward(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return scores_of(model.forward_from_embeddings(embed(ids), ids.clamp(min=0), lengths), output)

    return forward


@dataclass
class IntegratedGradientsResult:
    """Integrated gradients of one target class over the embeddings.

    Attributes:
        tokens: (T,) tokens read.
        scores: (T,) attribution per token (sum over embedding dimensions).
        target: explained class index.
        target_name: its name.
        baseline: ``pad``, ``unk`` or ``zero``.
        output: ``probability`` or ``logit`` (what f is).
        n_steps: integration steps.
        input_score: f(x) for the target class.
        baseline_score: f(baseline) for the target class.
        delta: convergence delta, sum(scores) - (input_score - baseline_score); completeness says
            it is 0, so |delta| measures the integration error (raise ``n_steps`` if large).
        input_probabilities: (C,) class probabilities of the text.
        baseline_probabilities: (C,) class probabilities of the baseline.
    """

    tokens: list[str]
    scores: np.ndarray
    target: int
    target_name: str
    baseline: str
    output: str
    n_steps: int
    input_score: float
    baseline_score: float
    delta: float
    input_probabilities: np.ndarray
    baseline_probabilities: np.ndarray

    @property
    def relative_delta(self) -> float:
        """|delta| as a share of |input_score - baseline_score|."""
        return abs(self.delta) / max(abs(self.input_score - self.baseline_score), 1e-12)


def gauss_legendre(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Captum's default ``gausslegendre`` integration: (S,) weights summing to 1 and (S,) path points
    in (0, 1), the Gauss-Legendre nodes and weights rescaled from [-1, 1]."""
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    return 0.5 * weights, 0.5 * (1 + nodes)


def baseline_ids(ids: torch.Tensor, baseline: str, pad_idx: int) -> torch.Tensor:
    """(1, T) baseline ids: all ``<pad>``, all ``<unk>``, or the zero-embedding id."""
    fill = {"pad": pad_idx, "unk": UNK_IDX, "zero": ZERO_ID}[baseline]
    return torch.full_like(ids, fill)


def integrated_gradients(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds, target: int | None = None,
                         baseline: str = "pad", n_steps: int = 50, internal_batch_size: int | None = None,
                         output: str = "probability") -> IntegratedGradientsResult:
    """Integrated gradients on the embedding layer, computed as Captum's
    ``LayerIntegratedGradients`` does (same Gauss-Legendre points and weights), in fewer passes.

    Captum runs the model twice more on the text and the baseline alone to find the embedding
    layer's endpoints; here those endpoints are embedding lookups, and the text's and the
    baseline's scores ride along as two more rows of the first path batch (which also gives the
    convergence delta without Captum's two extra passes). So ``n_steps`` points cost one
    forward/backward pass (or ``n_steps / internal_batch_size``), nothing more.

    Input and baseline share the input's length (passed as ``lengths``), so a packed model reads
    the same number of steps for both. cuDNN is disabled during the attribution (its RNN
    backward needs train mode); the model's mode is never changed.

    Args:
        model_or_bundle: a bundle or a bare model.
        text_or_ids: the text, token ids or a prepared input.
        target: class to explain (default: the predicted class).
        baseline: ``pad`` (default), ``unk`` or ``zero`` (all-zero embeddings).
        n_steps: integration steps.
        internal_batch_size: path points per forward/backward pass; None or 0 = all at once.
        output: explain the ``probability`` (default) or the ``logit``.

    Returns:
        Per-token scores, the convergence delta and the input/baseline probabilities.

    Raises:
        ExplanationInputError: the text cannot be explained.
    """
    for name, value in (("baseline", baseline), ("n_steps", n_steps), ("output", output),
                        ("internal_batch_size", internal_batch_size or 0)):
        EXPLAIN_SPEC[name].validate(name, value)
    model, _ = resolve(model_or_bundle)
    prepared = prepare_input(model_or_bundle, text_or_ids)
    ids = prepared.tensor(model_device(model))  # (1, T)
    base = baseline_ids(ids, baseline, model.config.pad_idx)  # (1, T)
    embed = _PathEmbedding(model.embedding)
    with torch.no_grad():
        x, x0 = embed(ids), embed(base)  # (1, T, E) each: the embedding layer's two endpoints
    step_sizes, alphas = gauss_legendre(n_steps)
    weights = torch.tensor(step_sizes, dtype=x.dtype, device=x.device)  # (S,)
    points = torch.tensor(alphas, dtype=x.dtype, device=x.device)  # (S,)
    chunk = internal_batch_size or n_steps
    total = torch.zeros_like(x[0])  # (T, E) sum over steps of weight * gradient
    endpoint = probs = None
    with no_cudnn(), torch.enable_grad():
        for start in range(0, n_steps, chunk):
            alpha = points[start:start + chunk].view(-1, 1, 1)  # (S', 1, 1)
            path = (x0 + alpha * (x - x0)).requires_grad_(True)  # (S', T, E)
            rows = path if endpoint is not None else torch.cat([x, x0, path])  # first pass: + text, baseline
            n = rows.shape[0]
            logits = model.forward_from_embeddings(rows, ids.expand(n, -1), torch.full((n,), prepared.length))
            scores = scores_of(logits, output)  # (n, C)
            if endpoint is None:
                probs = torch.softmax(logits[:2].detach(), dim=1).cpu().numpy()  # (2, C)
                target = check_target(model, target, int(probs[0].argmax()))
                endpoint = scores[:2, target].detach().cpu().numpy()  # (2,)
            (grads,) = torch.autograd.grad(scores[n - path.shape[0]:, target].sum(), path)  # (S', T, E)
            total += (grads * weights[start:start + chunk].view(-1, 1, 1)).sum(dim=0)
    scores = (total * (x[0] - x0[0])).sum(dim=-1).cpu().numpy()  # (T,)
    # Completeness: the scores should sum to f(x) - f(baseline); the rest is integration error.
    delta = float(scores.sum() - (endpoint[0] - endpoint[1]))
    return IntegratedGradientsResult(prepared.tokens, scores, target, label_names(model_or_bundle)[target],
                                     baseline, output, n_steps, float(endpoint[0]), float(endpoint[1]), delta,
                                     probs[0], probs[1])


@dataclass
class SaliencyResult:
    """Gradient-based saliency over the embeddings.

    Attributes:
        tokens: (T,) tokens read.
        target: explained class index.
        target_name: its name.
        output: ``probability`` or ``logit``.
        gradient_x_input: (T,) sum over embedding dimensions of gradient x embedding (signed).
        gradient_norm: (T,) L2 norm of the gradient at each token (unsigned sensitivity).
    """

    tokens: list[str]
    target: int
    target_name: str
    output: str
    gradient_x_input: np.ndarray
    gradient_norm: np.ndarray


def saliency(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds, target: int | None = None,
             output: str = "probability") -> SaliencyResult:
    """Gradient of the target class with respect to each token's embedding (Captum
    ``LayerGradientXActivation`` on the embedding output; one backward pass).

    Args:
        model_or_bundle: a bundle or a bare model.
        text_or_ids: the text, token ids or a prepared input.
        target: class to explain (default: the predicted class).
        output: differentiate the ``probability`` (default) or the ``logit``.

    Returns:
        Gradient x input and gradient norm per token.

    Raises:
        ExplanationInputError: the text cannot be explained.
    """
    EXPLAIN_SPEC["output"].validate("output", output)
    model, _ = resolve(model_or_bundle)
    prepared = prepare_input(model_or_bundle, text_or_ids)
    ids = prepared.tensor(model_device(model))
    lengths = torch.tensor([prepared.length])
    with torch.no_grad():
        embedded = model.embedding(ids)  # (1, T, E)
        predicted = int(model(ids, lengths)[0].argmax())
    target = check_target(model, target, predicted)
    from captum.attr import LayerGradientXActivation

    with no_cudnn():
        embed = _PathEmbedding(model.embedding)
        grads = LayerGradientXActivation(_forward(model, output, embed), embed, multiply_by_inputs=False).attribute(
            ids, target=target, additional_forward_args=(lengths,))[0].detach()  # (T, E)
    return SaliencyResult(prepared.tokens, target, label_names(model_or_bundle)[target], output,
                          (grads * embedded[0]).sum(-1).cpu().numpy(), grads.norm(dim=-1).cpu().numpy())


@dataclass
class OcclusionResult:
    """Leave-one-token-out importance.

    Attributes:
        tokens: (T,) tokens read.
        target: explained class index.
        target_name: its name.
        output: ``probability`` or ``logit``.
        mode: ``drop`` (token removed, text one token shorter), ``pad`` or ``unk`` (token
            overwritten in place, length unchanged).
        scores: (T,) f(text) - f(text with token t occluded) for the target class; positive
            means the token supported the target.
    """

    tokens: list[str]
    target: int
    target_name: str
    output: str
    mode: str
    scores: np.ndarray

    @property
    def description(self) -> str:
        """One sentence saying what occluding a token means here."""
        if self.mode == "drop":
            return "Each token is removed (the text becomes one token shorter)."
        return f"Each token is replaced in place by <{self.mode}> (the length stays the same)."


def occlusion(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds, mode: str = "drop",
              target: int | None = None, output: str = "probability") -> OcclusionResult:
    """Occlude each token in turn (one batched forward pass).

    ``pad``/``unk`` use Captum ``Occlusion`` with a one-token window; ``drop`` removes the token,
    which no fixed-shape perturbation can express, so it runs the T shortened texts directly
    (as ``counterfactual_edits`` does).

    Args:
        model_or_bundle: a bundle or a bare model.
        text_or_ids: the text, token ids or a prepared input.
        mode: ``drop``, ``pad`` or ``unk``.
        target: class to explain (default: the predicted class).
        output: score the ``probability`` (default) or the ``logit``.

    Returns:
        Per-token occlusion scores.

    Raises:
        ExplanationInputError: the text cannot be explained.
    """
    EXPLAIN_SPEC["occlusion_mode"].validate("mode", mode)
    EXPLAIN_SPEC["output"].validate("output", output)
    model, _ = resolve(model_or_bundle)
    prepared = prepare_input(model_or_bundle, text_or_ids)
    ids = prepared.tensor(model_device(model))  # (1, T)
    with torch.no_grad():
        if mode == "drop":
            rows, row_lengths = edited_batch(ids, "drop", UNK_IDX, model.config.pad_idx)  # (T+1, T)
            values = scores_of(logits_per_row(model, model.embedding(rows), rows, row_lengths), output)  # (T+1, C)
            target = check_target(model, target, int(values[0].argmax()))
            scores = values[0, target] - values[1:, target]  # (T,)
        else:
            from captum.attr import Occlusion

            lengths = torch.tensor([prepared.length])
            target = check_target(model, target, int(model(ids, lengths)[0].argmax()))
            fill = model.config.pad_idx if mode == "pad" else UNK_IDX
            scores = Occlusion(_forward(model, output, model.embedding)).attribute(
                ids, sliding_window_shapes=(1,), baselines=fill, target=target, additional_forward_args=(lengths,),
                perturbations_per_eval=prepared.length)[0]  # (T,)
    return OcclusionResult(prepared.tokens, target, label_names(model_or_bundle)[target], output, mode,
                           scores.float().cpu().numpy())
