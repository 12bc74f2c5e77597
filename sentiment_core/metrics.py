"""Classification metrics: accuracy, macro-F1, confusion matrix."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Metrics:
    """Evaluation of a model on one split.

    Attributes:
        loss: mean cross-entropy.
        accuracy: share of correct predictions.
        macro_f1: unweighted mean of per-class F1.
        confusion: ``confusion[true][pred]`` counts.
        per_class: per-class precision, recall, f1 and support.
        count: examples evaluated.
    """

    loss: float
    accuracy: float
    macro_f1: float
    confusion: list[list[int]]
    per_class: list[dict]
    count: int

    def to_dict(self) -> dict:
        return asdict(self)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, loss: float) -> Metrics:
    """Compute metrics from integer labels and predictions.

    Args:
        y_true: (N,) true labels.
        y_pred: (N,) predicted labels.
        num_classes: number of classes C.
        loss: mean loss to store alongside.

    Returns:
        The metrics.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class = []
    f1s = []
    for c in range(num_classes):
        tp = confusion[c, c]
        predicted = confusion[:, c].sum()
        support = confusion[c].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_class.append({"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(support)})
    count = int(y_true.size)
    return Metrics(
        loss=float(loss),
        accuracy=float((y_true == y_pred).mean()) if count else 0.0,
        macro_f1=float(np.mean(f1s)) if f1s else 0.0,
        confusion=confusion.tolist(),
        per_class=per_class,
        count=count,
    )
