"""The app server's memory floor: resident memory after each group of imports the pages need, then
after loading every shipped model (run by hand; compare with ``app_latency.py --soak``).

    PYTHONPATH=. python benchmarks/memory_floor.py
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = [  # (what the step adds, modules)
    ("torch", ["torch"]),
    ("Streamlit, Plotly, pandas", ["streamlit", "plotly.graph_objects", "pandas"]),
    ("nltk (the tokenizers)", ["sentiment_core.text"]),
    ("GateScope's core", ["sentiment_core.explain", "sentiment_core.plots", "sentiment_core.registry",
                          "sentiment_core.runs", "sentiment_core.classroom"]),
    ("Captum (integrated gradients, saliency)", ["captum.attr"]),
    ("torch._dynamo + sympy (imported by the first torch.optim optimizer: Inside's toy model)", ["torch._dynamo"]),
    ("scikit-learn + SciPy (the Dataset page's projector and paired test)", ["sklearn.decomposition", "sklearn.manifold",
                                                                        "scipy.stats"]),
]


def rss_mb() -> float:
    """Resident memory of this process, MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    last = rss_mb()
    print(f"{'step':<92}{'+MB':>7}{'total MB':>10}")
    print(f"{'python':<92}{last:>7.0f}{last:>10.0f}")
    for name, modules in STEPS:
        for module in modules:
            importlib.import_module(module)
        now = rss_mb()
        print(f"{name:<92}{now - last:>7.0f}{now:>10.0f}")
        last = now
    from sentiment_core.pretrained import DEFAULT_DIR, load_pretrained

    names = sorted(p.name.removesuffix(".safetensors") for p in DEFAULT_DIR.glob("*.safetensors"))
    for name in names:
        load_pretrained(name)
    now = rss_mb()
    print(f"{'the shipped models (' + ', '.join(names) + ')':<92}{now - last:>7.0f}{now:>10.0f}")


if __name__ == "__main__":
    main()
