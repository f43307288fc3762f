"""BERT Lens: the entry point. Declares the pages and draws the sidebar every page shares."""

import streamlit as st

from app_pages.common import sidebar

st.set_page_config(page_title="BERT Lens", page_icon=":material/search:", layout="wide")

PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", url_path="home", default=True),
    st.Page("app_pages/tokenization.py", title="Tokenization", icon=":material/text_fields:", url_path="tokenization"),
    st.Page("app_pages/positions.py", title="Positions", icon=":material/timeline:", url_path="positions"),
    st.Page("app_pages/inputs.py", title="Building the input", icon=":material/add_circle:", url_path="input"),
    st.Page("app_pages/architecture.py", title="Architecture", icon=":material/account_tree:",
            url_path="architecture"),
    st.Page("app_pages/attention.py", title="Attention", icon=":material/grid_on:", url_path="attention"),
    st.Page("app_pages/qkv.py", title="Query, key, value", icon=":material/calculate:", url_path="qkv"),
    st.Page("app_pages/context.py", title="Contextual meaning", icon=":material/compare_arrows:", url_path="context"),
    st.Page("app_pages/applications.py", title="Applications", icon=":material/school:", url_path="applications"),
]

page = st.navigation(PAGES)
st.session_state["lens"] = sidebar()
page.run()
