"""Plotly figure builders: plain functions from engine results to figures, no Streamlit, testable headless."""

from .attention import head_heatmap
from .labels import token_labels

__all__ = ["head_heatmap", "token_labels"]
