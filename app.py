"""BERT Lens, as Streamlit Community Cloud and ``scripts/run_app.sh`` start it: the app is ``app_pages/app.py``."""

from app_pages.app import main

main()
