"""Models written the way the classic tutorials write them (same attribute names, no GateScope
code), and NumPy implementations of Keras' layer equations, to build import fixtures."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class SentimentLSTM(nn.Module):
    """The UCI sentences tutorial: embedding -> LSTM -> dropout -> fc -> sigmoid at every step -> last."""

    def __init__(self, vocab_size, output_size, embedding_dim, hidden_dim, n_layers, drop_prob=0.5):
        super().__init__()
        self.output_size = output_size
        self.n_layers = n_layers
        self.hidden_dim = hidden_dim
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, n_layers, dropout=drop_prob, batch_first=True)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(hidden_dim, output_size)
        self.sig = nn.Sigmoid()

    def forward(self, x, hidden):
        batch_size = x.size(0)
        embeds = self.embedding(x)
        lstm_out, hidden = self.lstm(embeds, hidden)
        lstm_out = lstm_out.contiguous().view(-1, self.hidden_dim)
        out = self.dropout(lstm_out)
        out = self.fc(out)
        sig_out = self.sig(out)
        sig_out = sig_out.view(batch_size, -1)
        sig_out = sig_out[:, -1]
        return sig_out, hidden

    def init_hidden(self, batch_size):
        weight = next(self.parameters()).data
        return (weight.new(self.n_layers, batch_size, self.hidden_dim).zero_(),
                weight.new(self.n_layers, batch_size, self.hidden_dim).zero_())


class RNN(nn.Module):
    """The packed-sequence IMDb tutorial: torchtext vocabulary, BiLSTM, fc on both final states."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers, bidirectional, dropout, pad_idx):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_idx)
        self.rnn = nn.LSTM(embedding_dim, hidden_dim, num_layers=n_layers, bidirectional=bidirectional,
                           dropout=dropout)
        self.fc = nn.Linear(hidden_dim * 2, output_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, text, text_lengths):
        embedded = self.dropout(self.embedding(text))  # [sent len, batch size, emb dim]
        packed_embedded = nn.utils.rnn.pack_padded_sequence(embedded, text_lengths.to("cpu"), enforce_sorted=False)
        packed_output, (hidden, cell) = self.rnn(packed_embedded)
        hidden = self.dropout(torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1))
        return self.fc(hidden)


class SarcasmModel(nn.Module):
    """The O'Reilly sarcasm model in PyTorch: BiLSTM, global average pooling, fc1 -> ReLU -> fc2, sigmoid."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.fc1 = nn.Linear(hidden_dim * 2, 24)
        self.fc2 = nn.Linear(24, 1)

    def forward(self, x):
        out, _ = self.lstm(self.embedding(x))
        pooled = out.mean(dim=1)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(pooled)))).squeeze(1)


def train_a_little(model, batches, loss_fn, steps: int = 5):
    """A few Adam steps so the weights are not the initial ones."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(steps):
        for inputs, target in batches:
            optimizer.zero_grad()
            loss_fn(model, inputs, target).backward()
            optimizer.step()
    return model.eval()


# ------------------------------------------------------------ Keras' equations in NumPy


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def keras_simple_rnn(x, kernel, recurrent, bias):
    """(T, in) -> final (H,): h = tanh(x K + h R + b)."""
    h = np.zeros(recurrent.shape[0])
    for x_t in x:
        h = np.tanh(x_t @ kernel + h @ recurrent + bias)
    return h


def keras_lstm(x, kernel, recurrent, bias):
    """(T, in) -> final (H,), Keras' gate order i, f, c, o."""
    H = recurrent.shape[0]
    h, c = np.zeros(H), np.zeros(H)
    for x_t in x:
        z = x_t @ kernel + h @ recurrent + bias
        i, f, c_bar, o = _sigmoid(z[:H]), _sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), _sigmoid(z[3 * H:])
        c = f * c + i * c_bar
        h = o * np.tanh(c)
    return h


def keras_gru(x, kernel, recurrent, bias):
    """(T, in) -> final (H,), reset_after=True, Keras' gate order z, r, h; bias (2, 3H)."""
    H = recurrent.shape[0]
    h = np.zeros(H)
    for x_t in x:
        mx = x_t @ kernel + bias[0]
        mh = h @ recurrent + bias[1]
        z = _sigmoid(mx[:H] + mh[:H])
        r = _sigmoid(mx[H:2 * H] + mh[H:2 * H])
        hh = np.tanh(mx[2 * H:] + r * mh[2 * H:])
        h = z * h + (1 - z) * hh
    return h
