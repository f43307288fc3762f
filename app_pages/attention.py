"""Attention: pick a layer and a head, see which tokens each token attends to."""

import streamlit as st

from bertviz_core.charts import head_heatmap
from app_pages.common import current_analysis, url_index

analysis = current_analysis()

st.title("Attention")
st.markdown("Each row is one token asking *where should I look?*; the row's weights sum to 1. "
            "Hover a cell to read the weight.")
layer_column, head_column = st.columns(2)
layer = url_index("layer", "Layer", analysis.num_layers, column=layer_column)
head = url_index("head", "Head", analysis.num_heads, column=head_column)
st.plotly_chart(head_heatmap(analysis, layer, head), key="head_heatmap", width="content")
