"""Rebuild the shipped pretrained models from a dataset mirror.

    python scripts/build_pretrained.py --mirror ../shared/datasets [--only bilstm gru] [--out pretrained]

Deterministic from the recipes' seeds (same machine type, same thread count). With ``--measure`` the
shipped bundles are not retrained: their figures are measured again the way the app reads text and
stored in the cards, the bundles' descriptions (weights untouched) and the README table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sentiment_core.pretrained import (  # noqa: E402
    DEFAULT_DIR, FIXTURE_DIR, RECIPES, build_pretrained, measure_pretrained,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", required=True, help="dataset mirror folder (imdb/, sst2/, rt_polarity/, airline_tweets/)")
    parser.add_argument("--out", default=str(DEFAULT_DIR), help="output folder (default: the repository's pretrained/)")
    parser.add_argument("--only", nargs="+", choices=list(RECIPES), help="build only these models")
    parser.add_argument("--fixtures", default=str(FIXTURE_DIR), help="held-out fixture folder")
    parser.add_argument("--measure", action="store_true",
                        help="measure the shipped bundles again (no training; weights untouched)")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - start:7.0f}s] {message}", flush=True)

    if args.measure:
        for card in measure_pretrained(args.mirror, args.out, args.only, progress, fixture_dir=args.fixtures):
            print(f"{card['name']}: " + ", ".join(f"{k} {v['accuracy']:.4f}" for k, v in card["metrics"].items()))
        return 0
    cards = build_pretrained(args.mirror, args.out, args.only, progress, fixture_dir=args.fixtures)
    for card in cards:
        scores = ", ".join(f"{k} {v['accuracy']:.4f}" for k, v in card["metrics"].items())
        bad = [d["text"] for d in card["demo"] if not d["ok"]]
        print(f"{card['name']}: {scores}; {card['file_bytes'] / 1e6:.2f} MB; "
              f"{card['training_seconds'] / 60:.1f} min" + (f"; DEMO FAILURES: {bad}" if bad else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
