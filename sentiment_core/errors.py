"""Exceptions whose messages are written for the person who has to fix the input."""


class GateScopeError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class DataError(GateScopeError, ValueError):
    """A dataset, uploaded file or split cannot be used as given."""


class DownloadError(DataError):
    """A catalogue file could not be fetched. The message (for the command line) names the
    command-line remedies; ``reason`` alone is the plain cause, for pages that offer their own."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class CheckpointError(GateScopeError, ValueError):
    """A model bundle is corrupt, truncated, foreign or inconsistent."""


class TrainingError(GateScopeError, RuntimeError):
    """Training could not run (bad settings, out of memory, ...)."""
