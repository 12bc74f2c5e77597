"""Every lesson the app states holds at the page's own settings (seeded, one thread).

One test per lesson in ``sentiment_core.lessons``; each trains the lesson's small runs and
runs its check. ``-s`` prints the measured numbers the captions quote.
"""
from __future__ import annotations

import pytest

from sentiment_core import lessons

_OUTCOMES: dict[str, dict] = {}


def outcomes(lesson: lessons.Lesson) -> dict:
    """Trained runs of a lesson, shared by lessons with the same experiment (cells, connectivity)."""
    key = repr((lesson.data, lesson.model, lesson.train, lesson.encoding, lesson.vocab, lesson.vary, lesson.values))
    if key not in _OUTCOMES:
        _OUTCOMES[key] = lessons.run_lesson(lesson)
    return _OUTCOMES[key]


def report(lesson: lessons.Lesson, runs: dict) -> None:
    for value, run in runs.items():
        print(f"{lesson.key} {lesson.value_label(value)}: test {run.test_accuracy:.3f}, best val "
              f"{max(run.curve('val_accuracy')):.3f}, train loss {run.curve('train_loss')[0]:.3f}->"
              f"{run.curve('train_loss')[-1]:.3f}, val loss min {min(run.curve('val_loss')):.3f} last "
              f"{run.curve('val_loss')[-1]:.3f}, max grad norm {run.max_grad_norm:.1f}, params {run.params}")


@pytest.mark.parametrize("lesson", list(lessons.COMPARE_LESSONS.values()), ids=lambda lesson: lesson.key)
def test_compare_grid_lesson_holds(lesson):
    runs = outcomes(lesson)
    report(lesson, runs)
    assert lesson.check(runs) == []


def test_rnn_connectivity_decays_fastest():
    runs = outcomes(lessons.CONNECTIVITY)
    profiles = lessons.connectivity_profiles({value: run.bundle for value, run in runs.items()})
    far = lessons.far_connectivity(profiles)
    print("connectivity at", lessons.CONNECTIVITY_FAR, "words back:", far)
    assert lessons.CONNECTIVITY.check(runs) == []
