"""Small defects a teacher would trip over (issue 23, item 5): Stop is acknowledged at once and Delete
asks first, a run stopped before its first epoch is not ranked, the time-lapse caption names the
real colours, a Compare link to a missing run warns, sub-second epochs are not "0 s", and the
class sentence is confirmed to the teacher."""
from __future__ import annotations

import time

import pytest

from browser.app_support import SMALL_DATA, app_env, completed_run, open_page, shown, small_splits
from sentiment_core import classroom, plots, runs

PASSCODE = "gates-and-cells-42"


@pytest.fixture
def runs_dir(monkeypatch, tmp_path):
    folder = app_env(monkeypatch, tmp_path)
    monkeypatch.delenv(classroom.PASSCODE_ENV, raising=False)
    yield folder
    runs.set_shared_queue(None)


def train_page(**state):
    return open_page("train", state={"gs_data": dict(SMALL_DATA), "gs_owner": "me-1", **state})


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def stopped_before_first_epoch(folder, name: str) -> None:
    """Make run ``name`` look like one stopped before its first epoch ended: a result from the
    untrained model, no epochs and no checkpoint (as the worker leaves it)."""
    run = folder / name
    (run / "epochs.jsonl").unlink()
    (run / runs.BEST_FILE).unlink()
    result = runs.read_json(run / "result.json")
    runs.write_json(run / "result.json", {**result, "best_epoch": None, "seconds_per_epoch": None,
                                          "stop_reason": "stopped", "has_checkpoint": False})
    status = runs.read_json(run / "status.json")
    runs.write_json(run / "status.json", {**status, "state": "stopped",
                                          "message": "stopped; no epoch finished, so there is no model to download"})


def test_stop_is_acknowledged_in_the_same_rerun_and_delete_asks_first(runs_dir, monkeypatch):
    queue = runs.shared_queue()
    asked = []  # a loaded server: the worker takes its time to notice the stop (here: until told below)
    monkeypatch.setattr(classroom, "stop_run", lambda viewer, queue, name: asked.append(name) or True)
    long = {"epochs": 200, "patience": 0, "batch_size": 32, "device": "cpu"}
    name = queue.submit(runs.RunRequest(small_splits(), {"cell": "gru", "emb_dim": 8, "hidden_dim": 8}, long),
                        owner="me-1")
    deadline = time.monotonic() + 30
    while queue.position(name) != 0:  # training
        assert time.monotonic() < deadline
        time.sleep(0.05)
    at = train_page()
    assert at.session_state["gs_show_run"] == name
    labels = [b.label for b in at.button]
    assert "⏹ Stop" in labels and "🗑 Delete" not in labels
    button(at, "⏹ Stop").click().run()
    assert not at.exception
    assert any("Stopping after the current batch" in i.value for i in at.info)  # at once, on the page
    stopping = button(at, "⏳ Stopping…")
    assert stopping.disabled and "⏹ Stop" not in [b.label for b in at.button]
    assert asked == [name] and runs.load_run(name, runs_dir).state == "running"
    queue.stop(name)  # the worker notices
    queue.wait(name, 60)
    at.run()
    assert runs.load_run(name, runs_dir).state == "stopped"
    # Delete sits below the heading, not in Stop's column, and asks before removing anything
    assert "⏳ Stopping…" not in [b.label for b in at.button]
    button(at, "🗑 Delete").click().run()
    assert (runs_dir / name).is_dir()
    assert any(f"Delete {name} for good?" in shown(w.value) for w in at.warning)
    button(at, "Cancel").click().run()
    assert (runs_dir / name).is_dir() and "Confirm delete" not in [b.label for b in at.button]
    button(at, "🗑 Delete").click().run()
    button(at, "Confirm delete").click().run()
    assert not at.exception and not (runs_dir / name).exists()


def test_sub_second_epochs_are_not_zero_seconds(runs_dir):
    name = completed_run(runs_dir, "gru", epochs=1)
    result = runs.read_json(runs_dir / name / "result.json")
    runs.write_json(runs_dir / name / "result.json", {**result, "seconds_per_epoch": 0.26})
    at = train_page()
    assert next(m for m in at.metric if m.label == "Time per epoch").value == "0.26 s"


def test_a_run_stopped_before_its_first_epoch_is_not_ranked_and_explain_says_why(runs_dir):
    trained = completed_run(runs_dir, "lstm", epochs=1)
    untrained = completed_run(runs_dir, "gru", epochs=1)
    stopped_before_first_epoch(runs_dir, untrained)
    rows = classroom.gallery_rows(runs.list_runs(runs_dir), classroom.Viewer("me-1", "solo"), runs_dir)
    assert [r["run"] for r in rows] == [trained]
    gallery = open_page("gallery", state={"gs_owner": "me-1"})
    assert not gallery.exception and set(gallery.dataframe[0].value["run"]) == {trained}
    explain = open_page("explain", query={"model": f"run:{untrained}"}, state={"gs_owner": "me-1"})
    warning = " ".join(shown(w.value) for w in explain.warning)
    assert "saved no model" in warning and "before its first epoch" in warning
    assert "memory only" not in warning


def test_time_lapse_caption_names_the_bar_colours(runs_dir):
    completed_run(runs_dir, "gru", epochs=1)
    at = train_page()
    caption = next(c.value for c in at.caption if "Play" in c.value)
    assert f"{plots.TOWARDS_NAME.capitalize()} bars push towards" in caption
    assert f"{plots.AWAY_NAME} bars away" in caption and "Green" not in caption


def test_a_compare_link_to_a_missing_run_warns(runs_dir):
    name = completed_run(runs_dir, "gru", epochs=1)
    at = open_page("compare", query={"runs": "no-such-run"})
    assert not at.exception
    assert any("There is no run 'no-such-run' on this server" in shown(w.value) for w in at.warning)
    assert at.session_state["c_selected"] == [name]
    quiet = open_page("compare", query={"runs": name})
    assert not any("There is no run" in shown(w.value) for w in quiet.warning)


def test_show_to_the_class_confirms_what_the_class_sees(runs_dir, monkeypatch):
    monkeypatch.setenv(classroom.PASSCODE_ENV, PASSCODE)
    at = train_page(gs_owner="teacher-1")
    at.text_input(key="gs_passcode").input(PASSCODE)
    button(at, "Sign in").click().run()
    next(t for t in at.text_area if t.label.startswith("Class sentence")).input("<b>not bad</b> at all")
    button(at, "📣 Show to the class").click().run()
    assert not at.exception
    success = [s.value for s in at.success]
    assert any("now shows the class sentence" in shown(s) and "<b>not bad</b> at all" in shown(s)
               for s in success), success
    assert not any("<b>" in s for s in success)  # escaped, never HTML
    button(at, "Clear").click().run()
    assert any("no longer see a class sentence" in s.value for s in at.success)


def test_stop_shows_in_the_same_rerun_as_start(runs_dir):
    """A student can stop a run the moment it is queued: Stop is drawn by the Start click's own
    rerun, not by a later refresh (on a loaded server those came 12-30 s apart)."""
    at = train_page()
    at.slider(key="t_epochs").set_value(50).run()
    next(b for b in at.button if "Start" in b.label).click().run()
    assert not at.exception
    name = at.session_state["gs_show_run"]
    assert runs.load_run(name, runs_dir).state in runs.ACTIVE_STATES
    assert "⏹ Stop" in [b.label for b in at.button]
    button(at, "⏹ Stop").click().run()
    runs.shared_queue().wait(name, 60)
