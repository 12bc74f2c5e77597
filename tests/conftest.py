"""Shared fixtures: tiny models (vocab 30, dims 8) and a small rule-based dataset."""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sentiment_core.data.types import DatasetSplits, Examples  # noqa: E402
from sentiment_core.models import ModelConfig, build_model  # noqa: E402

SHARED_DATASETS = ROOT.parent / "shared" / "datasets"

torch.set_num_threads(2)


def tiny_config(**overrides) -> ModelConfig:
    """A model small enough to test exhaustively: vocab 30, dims 8."""
    options = dict(vocab_size=30, num_classes=2, emb_dim=8, hidden_dim=8)
    options.update(overrides)
    return ModelConfig(**options)


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return build_model(tiny_config()).eval()


def rule_splits(n: int = 600, seed: int = 0) -> DatasetSplits:
    """Short sentences whose label follows a rule: 'good'/'great' positive, 'bad'/'awful'
    negative, with neutral fillers around the cue."""
    rng = random.Random(seed)
    fillers = "the movie was plot actor scene it film story and a of".split()
    positive, negative = ["good", "great", "fine"], ["bad", "awful", "poor"]

    def make(count: int) -> Examples:
        texts, labels = [], []
        for _ in range(count):
            label = rng.randrange(2)
            words = [rng.choice(fillers) for _ in range(rng.randint(2, 8))]
            words.insert(rng.randrange(len(words) + 1), rng.choice(positive if label else negative))
            texts.append(" ".join(words))
            labels.append(label)
        return Examples(texts, labels)

    return DatasetSplits("rule", ["negative", "positive"], make(n), make(n // 5), make(n // 5), f"rule-{seed}")


@pytest.fixture(scope="session")
def splits() -> DatasetSplits:
    return rule_splits()


@pytest.fixture(scope="session")
def browser():
    """The one headless Chromium every real-browser test shares (Debian's chromium via Playwright);
    skipped, not failed, where playwright or chromium is missing (never `playwright install`)."""
    import shutil

    from browser.app_support import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not executable:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        except Exception as error:  # noqa: BLE001
            pytest.skip(f"chromium could not be launched: {error}")
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page in its own browser context (its own cookies: a new person) at 1400x1000."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()
