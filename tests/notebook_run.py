"""Run a notebook as Jupyter would, on this test process's own Python, and read what its outputs hold."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "notebooks" / "tour.ipynb"
KERNEL = "bert-lens-tests"
PLOTLY_JSON = "application/vnd.plotly.v1+json"


def executed(path: Path, workdir: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """``path`` run top to bottom in a kernel on ``sys.executable`` (a kernel spec of its own, so a user's
    ``python3`` kernel elsewhere cannot be picked), with this checkout importable; the run stops at the first error."""
    kernels = workdir / "kernels" / KERNEL
    kernels.mkdir(parents=True, exist_ok=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "BERT Lens tests", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(kernels.parent)])
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, km=manager, timeout=timeout, resources={"metadata": {"path": str(path.parent)}})
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    client.execute(env={**os.environ, "PYTHONPATH": python_path})
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    """Every output's data bundle, in order."""
    return [output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def figures(notebook: nbformat.NotebookNode) -> list[dict]:
    """The Plotly figures the outputs hold, as JSON, in order."""
    return [data[PLOTLY_JSON] for data in outputs(notebook) if PLOTLY_JSON in data]
