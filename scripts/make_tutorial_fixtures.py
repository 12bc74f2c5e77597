"""Build the PyTorch tutorial fixtures: tests/fixtures/tutorials/torch/<family>/.

Each family mirrors one tutorial's own pipeline in plain PyTorch, with no GateScope code: its
tokenizing, its vocabulary, its unknown-word handling, its padding and truncation, and its model.
Small seeded random weights are saved the way the tutorial saves them (``torch.save(
model.state_dict(), ...)`` plus the vocabulary as JSON), with the tutorial's own probabilities for
raw texts, each alone and all together in one batch as the tutorial batches them.

Families (the GateScope preset that reproduces each in ``expected.json``'s ``import_options``):
    uci_lstm       the UCI sentences chapter: punctuation deleted, vocab_to_int (index 0 free),
                   unknown words -> 0, pad_features (zeros before, cut after seq_length), a
                   2-layer LSTM with a sigmoid at every step, the last step taken
    imdb_rnn       the IMDb RNN chapter: the same text pipeline, nn.RNN, fc on the final state
    sarcasm_bilstm the sarcasm-style BiLSTM: punctuation deleted, NLTK's English stopwords removed,
                   <OOV> = 1, padded and cut after the text, the mean over every step (pads too),
                   fc1 -> ReLU -> fc2, sigmoid
    torchtext_packed  torchtext: basic_english, itos with <unk> 0 and <pad> 1, a packed BiLSTM
                   (pack_padded_sequence), batches padded with <pad> to their longest text
    torchtext_rnn  torchtext's simple RNN: basic_english, each text read alone at its own length
                   (predict_sentiment), nn.RNN, fc on the final state

Run from the repository root:
    python scripts/make_tutorial_fixtures.py          # build them
    python scripts/make_tutorial_fixtures.py --check  # import each through GateScope, print the largest |dP|
"""
from __future__ import annotations

import argparse
import json
import re
import string
import sys
from collections import Counter
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.tutorial_models import RNN as PackedBiLSTM  # noqa: E402
from tests.tutorial_models import SarcasmModel, SentimentLSTM  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "tutorials" / "torch"
STOPWORDS = ROOT / "sentiment_core" / "text_data" / "nltk_english_stopwords.txt"  # NLTK's list, as shipped
TRAIN_TEXTS = [
    "This movie was great! I loved the acting.",
    "Terrible plot, awful acting; I hated it.",
    "The film isn't good. Boring and too long...",
    "What a wonderful, moving story (and great music).",
    "Not bad at all: the cast was fine, the ending great.",
    "I don't recommend it. Worst film of the year!",
    "Beautiful, funny and smart. A great film.",
    "The acting was bad, the story was boring, the music awful.",
    "Loved it! Great fun for the whole family.",
    "Dull, slow and predictable; a waste of time.",
]
PROBE_TEXTS = [
    "This film is horrible",
    "Great!",
    "The acting was GREAT, but the plot... boring.",
    "I don't think it's good: not at all.",
    "zebra quantum movie",  # words the vocabulary never saw
    "a wonderful story, beautiful music, great acting, loved the cast, funny and smart and moving, "
    "a great film for the whole family, not boring at all",  # longer than the fixed length
    "",
    "Worst. Film. Ever.",
]


# ------------------------------------------------------------------ the tutorials' text pipelines


def chapter_tokens(text: str) -> list[str]:
    """The UCI / IMDb chapters: lowercase, delete punctuation, split on whitespace."""
    text = text.lower()
    return "".join(c for c in text if c not in string.punctuation).split()


def sarcasm_tokens(text: str, stopwords: set[str]) -> list[str]:
    """The sarcasm notebook: the chapters' cleaning, then NLTK's English stopwords removed."""
    return [w for w in chapter_tokens(text) if w not in stopwords]


_PATTERNS = [(re.compile(p), r) for p, r in zip(
    [r"\'", r"\"", r"\.", r"<br \/>", r",", r"\(", r"\)", r"\!", r"\?", r"\;", r"\:", r"\s+"],
    [" '  ", "", " . ", " ", " , ", " ( ", " ) ", " ! ", " ? ", " ", " ", " "])]


def basic_english(line: str) -> list[str]:
    """torchtext.data.utils.get_tokenizer("basic_english"), copied from torchtext's source."""
    line = line.lower()
    for pattern, replacement in _PATTERNS:
        line = pattern.sub(replacement, line)
    return line.split()


def pad_features(rows: list[list[int]], seq_length: int) -> torch.Tensor:
    """The chapters' pad_features: zeros before the text, the first seq_length ids kept."""
    features = torch.zeros((len(rows), seq_length), dtype=torch.int64)
    for i, row in enumerate(rows):
        if row:
            features[i, -len(row[:seq_length]):] = torch.tensor(row[:seq_length])
    return features


def pad_post(rows: list[list[int]], length: int, value: int = 0) -> torch.Tensor:
    """pad_sequences(padding='post', truncating='post')."""
    return torch.tensor([row[:length] + [value] * (length - len(row[:length])) for row in rows], dtype=torch.int64)


# ------------------------------------------------------------------ models the fixtures add


class SentimentRNN(nn.Module):
    """The IMDb RNN chapter: embedding -> nn.RNN -> fc on the final hidden state -> sigmoid."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = nn.RNN(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        _, hidden = self.rnn(self.embedding(x))
        return torch.sigmoid(self.fc(hidden[-1])).squeeze(1)


class SimpleRNN(nn.Module):
    """torchtext's first sentiment tutorial: sequence-first nn.RNN, fc on hidden.squeeze(0)."""

    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, embedding_dim)
        self.rnn = nn.RNN(embedding_dim, hidden_dim)
        self.fc = nn.Linear(hidden_dim, output_dim)

    def forward(self, text):
        embedded = self.embedding(text)  # [sent len, batch size, emb dim]
        output, hidden = self.rnn(embedded)
        return self.fc(hidden.squeeze(0))


def randomize(model: nn.Module, seed: int, scale: float = 0.6) -> nn.Module:
    """Seeded normal weights, large enough that probabilities spread away from 0.5."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    return model.eval()


# ------------------------------------------------------------------ the families


def word_counts(tokenize) -> list[str]:
    """The training words, most frequent first (ties in first-seen order, as Counter.most_common)."""
    counts = Counter(w for text in TRAIN_TEXTS for w in tokenize(text))
    return [w for w, _ in counts.most_common()]


def chapters(out: Path, name: str, seed: int) -> dict:
    words = word_counts(chapter_tokens)
    vocab_to_int = {w: i for i, w in enumerate(words, 1)}
    seq_length = 12
    if name == "uci_lstm":
        torch.manual_seed(seed)
        net = randomize(SentimentLSTM(len(vocab_to_int) + 1, 1, embedding_dim=8, hidden_dim=6, n_layers=2), seed)
        options = dict(preset="chapters", max_len=seq_length, head_input="last_step")
    else:
        net = randomize(SentimentRNN(len(vocab_to_int) + 1, 8, 6), seed)
        options = dict(preset="chapters", max_len=seq_length)

    def run(texts):
        features = pad_features([[vocab_to_int.get(w, 0) for w in chapter_tokens(t)] for t in texts], seq_length)
        with torch.no_grad():
            if name == "uci_lstm":
                return net(features, net.init_hidden(len(texts)))[0].tolist()
            return net(features).tolist()

    torch.save(net.state_dict(), out / "model.pt")
    (out / "vocab_to_int.json").write_text(json.dumps(vocab_to_int))
    return dict(weights="model.pt", vocabulary="vocab_to_int.json", import_options=options, run=run)


def sarcasm(out: Path, seed: int) -> dict:
    stopwords = {w for w in STOPWORDS.read_text().splitlines() if w and not w.startswith("#")}
    words = word_counts(lambda t: sarcasm_tokens(t, stopwords))
    word_index = {"<OOV>": 1, **{w: i for i, w in enumerate(words, 2)}}
    max_length = 10
    net = randomize(SarcasmModel(len(word_index) + 1, 8, 5), seed)

    def run(texts):
        rows = [[word_index.get(w, 1) for w in sarcasm_tokens(t, stopwords)] for t in texts]
        with torch.no_grad():
            return net(pad_post(rows, max_length)).tolist()

    torch.save(net.state_dict(), out / "model.pth")
    (out / "word_index.json").write_text(json.dumps(word_index))
    return dict(weights="model.pth", vocabulary="word_index.json", run=run,
                import_options=dict(preset="sarcasm", max_len=max_length, head_input="mean"))


def torchtext(out: Path, name: str, seed: int) -> dict:
    itos = ["<unk>", "<pad>", *word_counts(basic_english)]  # build_vocab_from_iterator(specials=[...])
    stoi = {w: i for i, w in enumerate(itos)}  # vocab.set_default_index(vocab["<unk>"])
    if name == "torchtext_packed":
        net = randomize(PackedBiLSTM(len(itos), 8, 5, 1, n_layers=2, bidirectional=True, dropout=0.5, pad_idx=1), seed)
        options = dict(preset="torchtext", packed=True, max_len=100)
    else:
        net = randomize(SimpleRNN(len(itos), 8, 6, 1), seed)
        options = dict(preset="torchtext", max_len=100)

    def run(texts):
        rows = [[stoi.get(t, 0) for t in basic_english(text)] for text in texts]
        if name == "torchtext_rnn":  # predict_sentiment: one text at a time, at its own length
            with torch.no_grad():
                return [torch.sigmoid(net(torch.tensor(row).unsqueeze(1))).item() for row in rows]
        length = max(map(len, rows))
        batch = torch.tensor([row + [1] * (length - len(row)) for row in rows]).T  # (T, B), <pad> = 1
        with torch.no_grad():
            return torch.sigmoid(net(batch, torch.tensor([len(r) for r in rows]))).squeeze(1).tolist()

    torch.save(net.state_dict(), out / "model.pt")
    (out / "itos.json").write_text(json.dumps(itos))
    return dict(weights="model.pt", vocabulary="itos.json", import_options=options, run=run)


FAMILIES = {
    "uci_lstm": lambda out, seed: chapters(out, "uci_lstm", seed),
    "imdb_rnn": lambda out, seed: chapters(out, "imdb_rnn", seed),
    "sarcasm_bilstm": sarcasm,
    "torchtext_packed": lambda out, seed: torchtext(out, "torchtext_packed", seed),
    "torchtext_rnn": lambda out, seed: torchtext(out, "torchtext_rnn", seed),
}


def build(name: str, out: Path, seed: int) -> dict:
    """Save one family's files in ``out / name`` and write its expected.json."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    family = FAMILIES[name](folder, seed)
    texts = [t for t in PROBE_TEXTS if t or not name.startswith("torchtext")]  # torchtext cannot read ""
    run = family.pop("run")
    alone = [run([text])[0] for text in texts]
    batched = run(texts)
    expected = {**family, "texts": texts, "labels": ["negative", "positive"],
                "alone": [[1 - p, p] for p in alone], "batch": [[1 - p, p] for p in batched],
                "torch": torch.__version__.split("+")[0], "seed": seed}
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    return expected


def check(out: Path, name: str) -> str:
    """Import one fixture through GateScope with its preset, and with the ``whitespace`` preset, and say
    how far each is from the tutorial's probabilities (largest |dP|, alone and in one batch)."""
    import numpy as np

    from sentiment_core.importers import ImportOptions, import_model
    from sentiment_core.predict import Predictor

    expected = json.loads((out / name / "expected.json").read_text())
    gaps = {}
    for preset in (expected["import_options"]["preset"], "whitespace"):
        options = ImportOptions(**{**expected["import_options"], "preset": preset})
        bundle = import_model(out / name / expected["weights"], out / name / expected["vocabulary"], options).bundle
        predict = lambda texts: np.array([[p.probabilities[n] for n in bundle.label_names]  # noqa: E731
                                          for p in Predictor(bundle).predict(texts)])
        alone = np.array([predict([t])[0] for t in expected["texts"]])
        gaps[preset] = (np.abs(alone - expected["alone"]).max(), np.abs(predict(expected["texts"]) - expected["batch"]).max())
    (preset, (alone, batch)), (_, (plain, _)) = gaps.items()
    return f"{name}: --preset {preset} alone {alone:.1e}, batch {batch:.1e}; --preset whitespace alone {plain:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", nargs="*", choices=tuple(FAMILIES))
    parser.add_argument("--check", action="store_true", help="import the fixtures through GateScope and compare")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for seed, name in enumerate(FAMILIES):
        if args.only and name not in args.only:
            continue
        if args.check:
            print(check(args.out, name))
            continue
        expected = build(name, args.out, seed)
        spread = [p for _, p in expected["alone"]]
        print(f"{name}: {len(expected['texts'])} texts, P(positive) {min(spread):.3f}-{max(spread):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
