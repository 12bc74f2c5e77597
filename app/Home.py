"""GateScope's entry point and frame (``streamlit run app/Home.py``).

This file has two roles, told apart by ``__name__``. ``streamlit run`` first imports it as a module
and, finding ``app``, serves it: an ``st.App`` whose lifespan warms the server (imports and shipped
models, ``frame.warm_up``) before it answers, so the first visitor does not pay for the start-up.
It is Streamlit 1.67's one start-up hook (a thread opening a loopback session would be a fake
visitor), it keeps ``streamlit run app/Home.py`` the start command, and it runs in the server
process, so the models land in the same registry the pages read. Every script run (each session's rerun, AppTest)
executes it as ``__main__``: page config, CSS, torch threads and session state once, then the page
chosen in the navigation, then the URL and the memory housekeeping."""
import streamlit as st
from ui import frame, identity, state

if __name__ != "__main__":  # imported by `streamlit run`: the server
    app = st.App(__file__, lifespan=frame.warm_lifespan)
else:  # a script run: the frame
    frame.setup()
    page = frame.navigation()
    state.init_session()
    identity.write_cookies()
    try:
        page.run()
    finally:
        state.write_url()  # after every widget has settled, so the link never lags an interaction
        frame.freeze_imports()
        frame.release_memory()
