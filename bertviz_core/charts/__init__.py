"""Plotly figure builders: plain functions from engine results to figures, no Streamlit, testable headless."""

# Plotly imports pandas lazily, from whichever thread builds the first figure, and a second thread can then pick up
# the half-imported module from sys.modules ("partially initialized module 'pandas' has no attribute 'Series"):
# twenty sessions opening the app at once did. Imported here, once, under the import lock, before any figure.
import pandas  # noqa: F401

from .attention import head_heatmap
from .labels import token_labels

__all__ = ["head_heatmap", "token_labels"]
