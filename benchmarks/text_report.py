"""Old against new shipped models: accuracy on the evaluation sets as a user pastes them (IMDb
reviews with their ``<br />`` tags), the vocabulary's share of word-plus-punctuation tokens, and
its GloVe coverage.

    python benchmarks/text_report.py --mirror ../shared/datasets --old OLD_DIR --new pretrained

OLD_DIR holds the bundles from before sentence-aware, cleaned tokens (e.g. ``git show
<commit>:pretrained/bilstm.safetensors > OLD_DIR/bilstm.safetensors``).
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentiment_core.checkpoint import load_checkpoint  # noqa: E402
from sentiment_core.embeddings import load_glove_6b_50d  # noqa: E402
from sentiment_core.pretrained import RECIPES, evaluate_texts, load_build_data  # noqa: E402

# A word with punctuation stuck to it: "good.", "movie,", "it!" ("mr." and "e.g." are words).
GLUED = re.compile(r"^[^\W\d_]{2,}[.,!?;:]+$")
KEEP = {"mr.", "mrs.", "ms.", "dr.", "st.", "jr.", "sr.", "vs.", "etc.", "inc.", "ltd.", "co.", "prof."}


def vocab_stats(bundle, glove_words: set[str]) -> dict:
    words = [w for w in bundle.vocab.get_itos() if w not in ("<pad>", "<unk>")]
    glued = [w for w in words if GLUED.match(w) and w not in KEEP]
    known = sum(1 for w in words if w in glove_words)
    return {"words": len(words), "glued": len(glued), "glued_share": len(glued) / max(1, len(words)),
            "glove_share": known / max(1, len(words)), "glued_examples": glued[:6]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", required=True)
    parser.add_argument("--old", required=True, type=Path)
    parser.add_argument("--new", required=True, type=Path)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_build_data(args.mirror, {"movie", "airline"}, print)
    glove = set(load_glove_6b_50d().words)
    rows = []
    for name, recipe in RECIPES.items():
        for which, folder in (("old", args.old), ("new", args.new)):
            path = folder / f"{name}.safetensors"
            if not path.is_file():
                continue
            bundle = load_checkpoint(path)
            start = time.perf_counter()
            scores = {}
            for eval_set in recipe.eval_sets:
                labels, examples = data.eval_sets[eval_set]
                scores[eval_set] = evaluate_texts(bundle, examples.texts,
                                                  [labels[y] for y in examples.labels])["accuracy"]
            stats = vocab_stats(bundle, glove)
            rows.append((name, which, scores, stats, time.perf_counter() - start))
            print(f"{name:15s} {which}: " + ", ".join(f"{k} {v:.2%}" for k, v in scores.items())
                  + f"; vocabulary {stats['words']:,}, word+punctuation {stats['glued']:,} "
                  f"({stats['glued_share']:.1%}, e.g. {', '.join(stats['glued_examples'][:4])}), "
                  f"GloVe {stats['glove_share']:.1%}  [{rows[-1][-1]:.0f}s]", flush=True)
    print("\n| model | tokens | IMDb test (raw) | SST-2 dev | RT test | airline test | word+punct. in vocab | GloVe coverage |")
    print("|---|---|---|---|---|---|---|---|")
    for name, which, scores, stats, _ in rows:
        cells = [f"{scores[k]:.2%}" if k in scores else "" for k in ("imdb_test", "sst2_dev", "rt_test",
                                                                     "airline_test")]
        print(f"| {name} | {which} | " + " | ".join(cells)
              + f" | {stats['glued']:,} of {stats['words']:,} ({stats['glued_share']:.1%}) | {stats['glove_share']:.1%} |")


if __name__ == "__main__":
    main()
