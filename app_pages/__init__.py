"""The Streamlit app: the entry script (``app.py``), one thin file per page, and what the pages share."""
