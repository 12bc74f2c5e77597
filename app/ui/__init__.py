"""App-side helpers (they import Streamlit): the frame and its page table, URL-synced state,
widgets built from specs, and the model picker over the one registry."""
