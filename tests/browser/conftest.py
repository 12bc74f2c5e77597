"""The one headless Chromium every real-browser test shares (Debian's chromium via Playwright).

Skipped (not failed) where playwright or chromium is missing; never runs `playwright install`.
"""
from __future__ import annotations

import os
import shutil

import pytest

from app_support import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="session")
def browser():
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
