"""Progress reporting shared by long computations (fits, imports, evaluation)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called by long work to report where it is; may raise to cancel the work.

    Args:
        done: units finished so far (epochs, batches, rows).
        total: units in all, or 0 when unknown.
        message: a short phrase for the progress bar ("epoch 3/10, loss 0.41").
    """

    def __call__(self, done: int, total: int, message: str = "") -> None: ...


def report(progress: Progress | None, done: int, total: int, message: str = "") -> None:
    """Report to ``progress`` when one was given; the no-op default keeps callers simple."""
    if progress is not None:
        progress(done, total, message)
