"""GateScope engine: text, vocabulary, datasets, RNN-family models, training,
checkpoints and prediction. Importable without Streamlit."""

__version__ = "0.1.0"
