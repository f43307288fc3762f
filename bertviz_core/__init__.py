"""BERT Lens engine: load a BERT-family model, run it once, and hand every view one frozen result.

No Streamlit here: the same functions serve the app, notebooks, the CLI (``python -m bertviz_core``)
and the tests.
"""

from .analysis import Analysis, InputError, MaskPrediction, analysis_key, analyze, analyze_many, normalised_text
from .anatomy import ModelSummary, model_summary
from .loading import LoadedModel, ModelLoadError, load_model

__all__ = [
    "Analysis", "InputError", "LoadedModel", "MaskPrediction", "ModelLoadError", "ModelSummary",
    "analysis_key", "analyze", "analyze_many", "load_model", "model_summary", "normalised_text",
]
