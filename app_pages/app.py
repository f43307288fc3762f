"""BERT Lens: the entry point. Declares the pages and draws the sidebar every page shares.

Streamlit runs this file itself in an installed copy (``bert-lens app``); a clone's ``app.py`` (Community Cloud,
``scripts/run_app.sh``) calls ``main``. Streamlit runs its entry script again on every interaction, so the work is in
``main``, not in importing this module (an import happens once per process).
"""

import streamlit as st

from app_pages.catalog import HOME, SECTIONS, in_section
from app_pages.compute import configure_server_process, return_freed_memory, settled_after_first_run, shelf
from app_pages.figures import start_run
from app_pages.sidebar import LENS, sidebar
from app_pages.state import PAGE


def main() -> None:
    """One run of the app: navigation, the shared sidebar, then the chosen page."""
    configure_server_process()  # once per process: FAISS's threads, Arrow's allocator, the garbage collector
    st.set_page_config(page_title="BERT Lens", page_icon=":material/search:", layout="wide")

    sections = {section: [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p == HOME)
                          for p in in_section(section)] for section in SECTIONS}
    # In the top bar, every section is in view on every page; in the sidebar, the fifteen pages would push the
    # sentence box below a laptop screen's fold (1366 x 768). Home lists every page, section by section.
    page = st.navigation(sections, position="top")
    st.session_state[PAGE] = page.url_path  # the URL names this page may use (state.py) follow from it
    with shelf().run():  # the models this run uses are not sent away under it
        try:
            st.session_state[LENS] = sidebar()
            start_run()
            page.run()
            settled_after_first_run(page.url_path)
        finally:
            st.session_state.pop(LENS, None)  # an idle session must not keep alive a model the server has sent away
    return_freed_memory()  # what drawing the page needed (figures, tables) is freed now; hand it back


if __name__ == "__main__":  # Streamlit runs its entry script as __main__
    main()
