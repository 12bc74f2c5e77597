"""GateScope's entry point and frame (``streamlit run app/Home.py``): page config, CSS, torch
threads and session state once, then the page chosen in the navigation, then the URL and the
memory housekeeping."""
from ui import frame, state

frame.setup()
page = frame.navigation()
state.init_session()
try:
    page.run()
finally:
    state.write_url()  # after every widget has settled, so the link never lags an interaction
    frame.freeze_imports()
    frame.release_memory()
