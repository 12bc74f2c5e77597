"""Ranges and defaults of every explainer option, for the pages' sliders and select boxes."""
from __future__ import annotations

from ..spec import ParamSpec

BASELINES = ("pad", "unk", "zero")
OUTPUTS = ("probability", "logit")
OCCLUSION_MODES = ("drop", "pad", "unk")
EDITS = ("drop", "replace")
NORMALIZATIONS = ("none", "sum", "max")

EXPLAIN_SPEC = {
    "n_steps": ParamSpec(50, "Points on the straight path from the baseline to the text; more steps make "
                         "integrated gradients more exact (smaller convergence delta) and slower.",
                         "Integration steps", min=5, max=300, step=5),
    "internal_batch_size": ParamSpec(0, "Path points per forward/backward pass (0 = all steps in one pass, "
                                     "fastest; lower it only to save memory).", "Steps per pass",
                                     min=0, max=300, step=1),
    "baseline": ParamSpec("pad", "The 'no information' input the text is compared with: every token "
                          "replaced by <pad>, by <unk>, or an all-zero embedding.", "Baseline",
                          choices=BASELINES),
    "output": ParamSpec("probability", "Explain the class probability (bounded, adds up across classes) "
                        "or the raw logit (unbounded score before softmax).", "Explained output",
                        choices=OUTPUTS),
    "occlusion_mode": ParamSpec("drop", "Leave each token out (the text gets one token shorter) or "
                                "overwrite it with <pad> / <unk> in place.", "Occlusion",
                                choices=OCCLUSION_MODES),
    "edit": ParamSpec("replace", "Counterfactual edit applied to each token in turn.", "Edit",
                      choices=EDITS),
    "replacement": ParamSpec("<unk>", "Word put in place of each token (words outside the vocabulary "
                             "become <unk>).", "Replacement word"),
    "connectivity_sample": ParamSpec(100, "Texts averaged for the gradient-connectivity curve.",
                                     "Texts sampled", min=10, max=500, step=10),
    "connectivity_normalize": ParamSpec("max", "Scale each text's gradient norms before averaging: "
                                        "'max' divides by the text's largest norm, 'sum' turns them "
                                        "into shares, 'none' keeps raw norms.", "Normalise",
                                        choices=NORMALIZATIONS),
    "gate_stats_n": ParamSpec(200, "Validation texts whose gate activations are collected.",
                              "Texts for gate statistics", min=10, max=2000, step=10),
    "histogram_bins": ParamSpec(20, "Bins of each activation histogram.", "Histogram bins",
                                min=5, max=100, step=1),
    "saturation_margin": ParamSpec(0.05, "A sigmoid gate below m or above 1-m, or a tanh value with "
                                   "|x| > 1-m, counts as saturated.", "Saturation margin",
                                   min=0.01, max=0.25, step=0.01),
    "top_k_units": ParamSpec(10, "Hidden units listed as most correlated with the predicted class.",
                             "Top units", min=1, max=50, step=1),
}
