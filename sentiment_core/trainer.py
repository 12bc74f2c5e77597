"""The training loop. It never imports Streamlit and never prints: it reports through
callbacks and stops cleanly when a stop event is set (minGPT's trainer pattern)."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol, Sequence

import numpy as np
import torch
from torch import nn

from .device import DEVICE_CHOICES, resolve_device
from .encoding import EncodingConfig, pad_batch
from .metrics import Metrics, classification_metrics
from .spec import ParamSpec, dataclass_from_dict
from .vocab import PAD_IDX

OPTIMIZERS = ("adam", "adamw", "sgd")

TRAIN_SPEC = {
    "epochs": ParamSpec(5, "Passes over the training set.", "Epochs", min=1, max=300, step=1),
    "batch_size": ParamSpec(64, "Examples per gradient step.", "Batch size", min=1, max=1024, step=1),
    "lr": ParamSpec(1e-3, "Step size. Too high diverges (NaN), too low barely moves.", "Learning rate",
                    min=1e-5, max=10.0, log=True),
    "optimizer": ParamSpec("adam", "Update rule.", "Optimizer", choices=OPTIMIZERS),
    "weight_decay": ParamSpec(0.0, "L2 penalty on weights (decoupled for AdamW).", "Weight decay",
                              min=0.0, max=0.1, step=1e-4),
    "clip_norm": ParamSpec(5.0, "Rescale gradients whose total norm exceeds this (0 = off); "
                           "tames exploding gradients.", "Gradient clip norm", min=0.0, max=100.0, step=0.5),
    "lr_decay": ParamSpec(1.0, "When an epoch does not improve the validation loss, go back to the best weights "
                          "and multiply the learning rate by this (1 = off): smaller steps from the best point "
                          "often find a better one.", "Learning-rate decay on a plateau", min=0.01, max=1.0,
                          step=0.01),
    "patience": ParamSpec(3, "Stop after this many epochs without a better validation loss (0 = never).",
                          "Early-stopping patience", min=0, max=20, step=1),
    "seed": ParamSpec(0, "Same seed, same device: same numbers.", "Seed", min=0, max=2**31 - 1, step=1),
    "device": ParamSpec("auto", "auto picks CUDA, then Apple MPS, then CPU.", "Device", choices=DEVICE_CHOICES),
    "bucketing": ParamSpec(True, "Batch texts of similar length together so padding costs little.",
                           "Bucket by length"),
}


@dataclass
class TrainConfig:
    """Training hyperparameters; ranges and help live in ``TRAIN_SPEC``. How texts are cut
    and padded is an ``EncodingConfig``, not a training option."""

    epochs: int = TRAIN_SPEC["epochs"].default
    batch_size: int = TRAIN_SPEC["batch_size"].default
    lr: float = TRAIN_SPEC["lr"].default
    optimizer: str = TRAIN_SPEC["optimizer"].default
    weight_decay: float = TRAIN_SPEC["weight_decay"].default
    clip_norm: float = TRAIN_SPEC["clip_norm"].default
    lr_decay: float = TRAIN_SPEC["lr_decay"].default
    patience: int = TRAIN_SPEC["patience"].default
    seed: int = TRAIN_SPEC["seed"].default
    device: str = TRAIN_SPEC["device"].default
    bucketing: bool = TRAIN_SPEC["bucketing"].default

    def __post_init__(self) -> None:
        for name, spec in TRAIN_SPEC.items():
            if name == "device":
                if str(self.device).split(":")[0] not in DEVICE_CHOICES:
                    raise ValueError(f"unknown device {self.device!r}; valid: {', '.join(DEVICE_CHOICES)}")
                continue
            spec.validate(name, getattr(self, name))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Rebuild from ``to_dict`` output; unknown keys raise ValueError listing valid ones."""
        return dataclass_from_dict(cls, data, "training option")


@dataclass
class EncodedExamples:
    """Token-index lists (already truncated) and labels."""

    ids: list[list[int]]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self) -> np.ndarray:
        return np.fromiter((len(s) for s in self.ids), dtype=np.int64, count=len(self.ids))


@dataclass
class BatchInfo:
    """Reported after every optimisation step."""

    epoch: int
    batch: int
    batches_per_epoch: int
    step: int
    loss: float
    accuracy: float
    grad_norm: float
    clipped: bool
    seconds: float


@dataclass
class EpochInfo:
    """Reported after every epoch."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    val_macro_f1: float
    seconds: float              # whole epoch, validation included
    train_seconds: float        # optimisation steps only
    tokens_per_second: float    # real (non-pad) training tokens per train second
    is_best: bool
    lr: float | None = None     # the learning rate of this epoch (``lr_decay`` lowers it after a plateau)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EpochTrain:
    """Running totals of one pass over the training set (``Trainer._run_epoch``)."""

    loss_sum: float = 0.0        # summed per-example training loss
    correct: int = 0
    seen: int = 0                # examples trained on
    tokens: int = 0              # real (non-pad) tokens trained on
    stop_reason: str | None = None  # "stopped" or "nan_loss" when the pass ended early
    message: str = ""

    @property
    def loss(self) -> float:
        """Mean training loss per example."""
        return self.loss_sum / self.seen

    @property
    def accuracy(self) -> float:
        return self.correct / self.seen


STOP_REASONS = ("completed", "early_stopping", "stopped", "nan_loss", "out_of_memory")


@dataclass
class FitResult:
    """How training ended. ``model`` holds the best weights (by validation loss)."""

    history: list[EpochInfo]
    best_epoch: int | None
    best_val_loss: float | None
    stop_reason: str
    message: str
    seconds: float
    device: str
    batch_history: list[dict] = field(default_factory=list)


class Callback(Protocol):
    """Any subset of these methods may be implemented."""

    def on_batch_end(self, info: BatchInfo) -> None: ...
    def on_epoch_end(self, info: EpochInfo) -> None: ...
    def on_fit_end(self, result: FitResult) -> None: ...


class StopEvent(Protocol):
    def is_set(self) -> bool: ...


def make_batches(lengths: np.ndarray, batch_size: int, *, shuffle: bool, bucketing: bool,
                 rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Group example indices into batches.

    With bucketing, examples are sorted by length inside pools of 50 batches (shuffled
    pools when training), so each batch holds texts of similar length and pads little.

    Args:
        lengths: (N,) token counts.
        batch_size: examples per batch.
        shuffle: randomise order (training).
        bucketing: group by similar length.
        rng: random generator for shuffling.

    Returns:
        A list of index arrays.
    """
    n = len(lengths)
    order = rng.permutation(n) if shuffle else np.arange(n)
    if bucketing:
        pool = batch_size * 50 if shuffle else n
        order = np.concatenate([
            chunk[np.argsort(lengths[chunk], kind="stable")] for chunk in np.array_split(order, max(1, math.ceil(n / pool)))
        ]) if n else order
    batches = [order[i: i + batch_size] for i in range(0, n, batch_size)]
    if shuffle and bucketing:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def collate(data: EncodedExamples, index: np.ndarray, padding: str = "post") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad a batch to its own longest example.

    Returns:
        ids (B, T), lengths (B,), labels (B,).
    """
    seqs = [data.ids[i] for i in index]
    ids = torch.from_numpy(pad_batch(seqs, side=padding, pad_idx=PAD_IDX))
    lengths = torch.tensor([max(1, len(s)) for s in seqs], dtype=torch.int64)
    labels = torch.tensor([data.labels[i] for i in index], dtype=torch.int64)
    return ids, lengths, labels


def _is_oom(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in text or "can't allocate" in text


def predict_logits(model: nn.Module, data: EncodedExamples, batch_size: int = 256, padding: str = "post",
                   device: torch.device | None = None) -> torch.Tensor:
    """Logits for every example, in the original order. (N, C) float32 on CPU."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = torch.empty((len(data), model.config.num_classes), dtype=torch.float32)
    with torch.no_grad():
        for index in make_batches(data.lengths(), batch_size, shuffle=False, bucketing=True):
            ids, lengths, _ = collate(data, index, padding)
            out[torch.from_numpy(index)] = model(ids.to(device), lengths).float().cpu()
    model.train(was_training)
    return out


def evaluate(model: nn.Module, data: EncodedExamples, batch_size: int = 256, padding: str = "post",
             device: torch.device | None = None) -> Metrics:
    """Loss, accuracy, macro-F1 and confusion matrix of ``model`` on ``data``."""
    logits = predict_logits(model, data, batch_size, padding, device)
    labels = torch.tensor(data.labels, dtype=torch.int64)
    loss = nn.functional.cross_entropy(logits, labels).item() if len(data) else 0.0
    return classification_metrics(labels.numpy(), logits.argmax(1).numpy(), model.config.num_classes, loss)


def effective_padding(model: nn.Module, padding: str) -> str:
    """Packed models always get post-padded batches (packing skips pads wherever they
    are declared to be); the padding side only matters for unpacked models."""
    return "post" if model.config.packed else padding


def _make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    # foreach: one multi-tensor kernel per update step instead of a Python loop of small ones
    # (PyTorch's default on CUDA only). Same arithmetic, same numbers, and on the CPU 3-4x faster
    # steps, which matters because the dense embedding table is most of the parameters.
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, foreach=True)


class Trainer:
    """Fits a ``SentimentRNN`` and keeps the weights with the best validation loss.

    Args:
        model: the model (moved to the configured device).
        config: hyperparameters.
        callbacks: objects with any of ``on_batch_end``, ``on_epoch_end``, ``on_fit_end``.
        stop_event: anything with ``is_set()`` (e.g. ``threading.Event``); checked every batch.
        encoding: how the examples were encoded; batches are padded on its side
            (``effective_padding``). Default: ``EncodingConfig()``.
    """

    def __init__(self, model: nn.Module, config: TrainConfig, callbacks: Sequence[object] = (),
                 stop_event: StopEvent | None = None, encoding: EncodingConfig | None = None):
        self.model = model
        self.config = config
        self.encoding = encoding or EncodingConfig()
        self.callbacks = list(callbacks)
        self.stop_event = stop_event
        self.device = resolve_device(config.device)

    def _emit(self, hook: str, payload) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(payload)

    def _run_epoch(self, epoch: int, train: EncodedExamples, optimizer: torch.optim.Optimizer,
                   params: list[nn.Parameter], clip: float, padding: str, start: float,
                   batch_history: list[dict]) -> EpochTrain:
        """One shuffled pass over ``train``, one optimisation step per batch.

        Args:
            epoch: 1-based epoch number (seeds the shuffle).
            train: training examples.
            optimizer: the optimizer over ``params``.
            params: the trainable parameters (their gradient norm is clipped to ``clip``).
            clip: gradient clip norm (``math.inf`` = off).
            padding: padding side of the batches.
            start: ``time.perf_counter()`` when fitting began (for ``BatchInfo.seconds``).
            batch_history: every finished step is appended here as a dict, so the steps
                survive an out-of-memory error in a later batch.

        Returns:
            The epoch's training loss, accuracy and token count, or why it ended early.
        """
        cfg, model = self.config, self.model
        model.train()
        rng = np.random.default_rng(cfg.seed * 1000 + epoch)
        batches = make_batches(train.lengths(), cfg.batch_size, shuffle=True, bucketing=cfg.bucketing, rng=rng)
        loss_fn = nn.CrossEntropyLoss()
        result = EpochTrain()
        for b, index in enumerate(batches, start=1):
            if self.stop_event is not None and self.stop_event.is_set():
                result.stop_reason, result.message = "stopped", f"stopped by request during epoch {epoch}"
                break
            ids, batch_lengths, labels = collate(train, index, padding)
            ids, labels = ids.to(self.device), labels.to(self.device)
            logits = model(ids, batch_lengths)
            loss = loss_fn(logits, labels)
            if not torch.isfinite(loss):
                result.stop_reason = "nan_loss"
                result.message = (f"the loss became {loss.item()} at epoch {epoch}, batch {b}: training "
                                  f"diverged. Lower the learning rate (now {cfg.lr:g}) or set a gradient "
                                  "clip norm; the best model so far was kept.")
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
            optimizer.step()
            batch_loss = loss.item()
            batch_correct = int((logits.argmax(1) == labels).sum())
            n = len(index)
            result.loss_sum += batch_loss * n
            result.correct += batch_correct
            result.seen += n
            result.tokens += int(batch_lengths.sum())
            info = BatchInfo(epoch, b, len(batches), len(batch_history) + 1, batch_loss, batch_correct / n,
                             grad_norm, grad_norm > clip, time.perf_counter() - start)
            batch_history.append(asdict(info))
            self._emit("on_batch_end", info)
        return result

    def fit(self, train: EncodedExamples, validation: EncodedExamples) -> FitResult:
        """Train for ``config.epochs`` epochs or until early stopping, NaN loss, out of
        memory or the stop event; then restore the best weights.

        Args:
            train: training examples.
            validation: validation examples (selects the best epoch).

        Returns:
            The history and why training ended.
        """
        cfg, model = self.config, self.model
        if len(train) == 0 or len(validation) == 0:
            raise ValueError("training needs at least one training and one validation example")
        torch.manual_seed(cfg.seed)
        model.to(self.device)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = _make_optimizer(cfg, params)
        history: list[EpochInfo] = []
        batch_history: list[dict] = []
        best_state, best_loss, best_epoch = None, math.inf, None
        stale = 0
        stop_reason, message = "completed", f"finished {cfg.epochs} epoch{'' if cfg.epochs == 1 else 's'}"
        start = time.perf_counter()
        clip = cfg.clip_norm if cfg.clip_norm and cfg.clip_norm > 0 else math.inf
        padding = effective_padding(model, self.encoding.padding)
        try:
            for epoch in range(1, cfg.epochs + 1):
                epoch_start, epoch_lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
                run = self._run_epoch(epoch, train, optimizer, params, clip, padding, start, batch_history)
                if run.stop_reason is not None:
                    stop_reason, message = run.stop_reason, run.message
                    break
                if run.seen == 0:
                    break
                train_seconds = time.perf_counter() - epoch_start
                val = evaluate(model, validation, max(cfg.batch_size, 256), padding, self.device)
                if not math.isfinite(val.loss):
                    stop_reason = "nan_loss"
                    message = (f"the validation loss became {val.loss} after epoch {epoch}: training diverged. "
                               f"Lower the learning rate (now {cfg.lr:g}); the best model so far was kept.")
                    break
                is_best = val.loss < best_loss
                if is_best:
                    best_loss, best_epoch, stale = val.loss, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    stale += 1
                    if cfg.lr_decay < 1 and best_state is not None and epoch < cfg.epochs:
                        model.load_state_dict(best_state)  # the next epoch starts again from the best weights
                        for group in optimizer.param_groups:
                            group["lr"] *= cfg.lr_decay
                seconds = time.perf_counter() - epoch_start
                info = EpochInfo(epoch, run.loss, run.accuracy, val.loss, val.accuracy,
                                 val.macro_f1, seconds, train_seconds,
                                 run.tokens / train_seconds if train_seconds > 0 else 0.0, is_best, epoch_lr)
                history.append(info)
                self._emit("on_epoch_end", info)
                if cfg.patience and stale >= cfg.patience:
                    stop_reason = "early_stopping"
                    message = (f"validation loss did not improve for {cfg.patience} epochs; "
                               f"stopped after epoch {epoch} and kept epoch {best_epoch}")
                    break
        except RuntimeError as error:
            if not _is_oom(error):
                raise
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            stop_reason = "out_of_memory"
            message = (f"ran out of memory with batch size {cfg.batch_size} (max length {self.encoding.max_len}) on "
                       f"{self.device}: choose a smaller batch size or max length; the best model so far was kept.")
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        result = FitResult(history, best_epoch, best_loss if best_state is not None else None, stop_reason,
                           message, time.perf_counter() - start, str(self.device), batch_history)
        self._emit("on_fit_end", result)
        return result
