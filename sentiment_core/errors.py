"""Exceptions whose messages are written for the person who has to fix the input."""


class GateScopeError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class DataError(GateScopeError, ValueError):
    """A dataset, uploaded file or split cannot be used as given."""


class CheckpointError(GateScopeError, ValueError):
    """A model bundle is corrupt, truncated, foreign or inconsistent."""


class TrainingError(GateScopeError, RuntimeError):
    """Training could not run (bad settings, out of memory, ...)."""
