"""Every chart on every page offers a PNG download (for slides)."""
from __future__ import annotations

import json

from browser.app_support import app_env, completed_run, open_page


def test_every_chart_offers_png_download(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    name = completed_run(runs_dir, "lstm", epochs=1)
    seen = 0
    for page, query in (("home", {}), ("data", {}), ("train", {"run": name}), ("compare", {}), ("explain", {}),
                        ("gradients", {})):
        at = open_page(page, query=query)
        assert not at.exception, page
        for chart in at.get("plotly_chart"):
            config = json.loads(chart.proto.config)
            assert config.get("displayModeBar") is not False, page
            assert ["toImage"] in config["modeBarButtons"], page
            seen += 1
    assert seen >= 15
