"""One call for the explainer page: prediction, trace, trajectory and integrated gradients.

The prediction comes from the trace (no separate forward pass), the bidirectional trajectory
reuses the trace, and integrated gradients run all path steps in one batched pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .attribution import IntegratedGradientsResult, integrated_gradients
from .inputs import ExplainInput, ModelOrBundle, TextOrIds, prepare_input
from .trace import ModelPrediction, Trace, trace
from .trajectory import Trajectory, trajectory


@dataclass
class Explanation:
    """Everything the explainer page shows for one text.

    Attributes:
        input: the encoded text (tokens, unknown flags, truncation).
        prediction: class probabilities (from the trace).
        trace: gates and states of every layer and direction.
        trajectory: the prediction word by word (or why it does not exist).
        integrated_gradients: token attributions for ``target`` (default: predicted class).
        notes: plain-language remarks to show with the results.
    """

    input: ExplainInput
    prediction: ModelPrediction
    trace: Trace
    trajectory: Trajectory
    integrated_gradients: IntegratedGradientsResult
    notes: list[str] = field(default_factory=list)


def explain(bundle: ModelOrBundle, text: TextOrIds, target: int | None = None, baseline: str = "pad",
            n_steps: int = 50, internal_batch_size: int | None = None,
            output: str = "probability") -> Explanation:
    """Prediction, trace, trajectory and integrated gradients for one text.

    Args:
        bundle: a bundle (or a bare model with token ids).
        text: the text, token ids or a prepared input.
        target: class to attribute (default: the predicted class).
        baseline: integrated-gradients baseline, ``pad``, ``unk`` or ``zero``.
        n_steps: integration steps.
        internal_batch_size: steps per pass (default: all ``n_steps`` in one pass).
        output: attribute the ``probability`` or the ``logit``.

    Returns:
        The explanation.

    Raises:
        ExplanationInputError: the text cannot be explained (``check_explainable`` says why
            without raising).
    """
    prepared = prepare_input(bundle, text)
    traced = trace(bundle, prepared)
    target = traced.prediction.label if target is None else target
    return Explanation(
        input=prepared,
        prediction=traced.prediction,
        trace=traced,
        trajectory=trajectory(bundle, prepared, traced=traced),
        integrated_gradients=integrated_gradients(bundle, prepared, target, baseline, n_steps,
                                                  internal_batch_size, output),
        notes=list(prepared.notes),
    )
