"""BERT Lens: the entry point. Declares the pages and draws the sidebar every page shares."""

import streamlit as st

from app_pages.catalog import PAGES
from app_pages.common import return_freed_memory, sidebar

st.set_page_config(page_title="BERT Lens", page_icon=":material/search:", layout="wide")

home = st.Page("app_pages/home.py", title="Home", icon=":material/home:", url_path="home", default=True)
pages = [home] + [st.Page(p.script, title=p.title, icon=p.icon, url_path=p.url_path) for p in PAGES]

page = st.navigation(pages)
st.session_state["lens"] = sidebar()
page.run()
return_freed_memory()  # what drawing the page needed (figures, tables) is freed now; hand it back
