"""The explainer: what an RNN-family classifier computes for one text, and why it decides as
it does. Plain data only (dataclasses of tokens, NumPy arrays and scores); no plotting.

Pages call ``check_explainable`` first; every explainer raises ``ExplanationInputError`` (with
a user-facing message) for input it cannot explain. Option ranges live in ``EXPLAIN_SPEC``.
"""
import importlib

from .counterfactual import CounterfactualResult, counterfactual_edits
from .gradients import Connectivity, ConnectivityProfile, connectivity_profile, gradient_connectivity
from .inputs import ExplainInput, ExplanationInputError, InputCheck, check_explainable, prepare_input
from .spec import EXPLAIN_SPEC
from .stats import GateHistogram, GateStats, UnitCorrelation, gate_statistics
from .stepthrough import Equation, GateStep, ParameterCounts, StepThrough, parameter_counts, step_through
from .trace import GATE_NAMES, DirectionTrace, ModelPrediction, Trace, trace
from .trajectory import Trajectory, trajectory

# Captum-based names load on first use, so pages that need only the trace (Home) start faster.
_LAZY = {
    "IntegratedGradientsResult": "attribution", "OcclusionResult": "attribution", "SaliencyResult": "attribution",
    "integrated_gradients": "attribution", "occlusion": "attribution", "saliency": "attribution",
    "Explanation": "explainer", "explain": "explainer",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "EXPLAIN_SPEC", "GATE_NAMES",
    "check_explainable", "prepare_input", "ExplainInput", "InputCheck", "ExplanationInputError",
    "explain", "Explanation",
    "trace", "Trace", "DirectionTrace", "ModelPrediction",
    "trajectory", "Trajectory",
    "integrated_gradients", "IntegratedGradientsResult", "saliency", "SaliencyResult",
    "occlusion", "OcclusionResult",
    "counterfactual_edits", "CounterfactualResult",
    "step_through", "StepThrough", "GateStep", "Equation", "parameter_counts", "ParameterCounts",
    "gradient_connectivity", "Connectivity", "connectivity_profile", "ConnectivityProfile",
    "gate_statistics", "GateStats", "GateHistogram", "UnitCorrelation",
]
