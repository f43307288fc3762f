import json
import subprocess
import sys

import numpy as np
import pytest

from bertviz_core.__main__ import main
from bertviz_core.export import NPZ_KEYS


def run_cli(*args):
    """The CLI in a real subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "bertviz_core", *args], capture_output=True, text=True, timeout=300)


def test_info_prints_sizes_and_parameters(tiny_dirs, capsys):
    assert main(["info", "--model", str(tiny_dirs["bert"])]) == 0
    out = capsys.readouterr().out
    assert "layers: 3" in out and "heads: 4" in out and "layer 3 feed-forward" in out and "MLM head" in out


def test_fill_mask_json_lists_top_k(tiny_dirs, capsys):
    assert main(["fill-mask", "She is a [MASK] engineer.", "--model", str(tiny_dirs["bert"]), "--top-k", "3",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    guesses = result["masks"][0]["predictions"]
    assert len(guesses) == 3 and guesses[0]["probability"] >= guesses[-1]["probability"]


def test_analyze_writes_the_documented_npz(tiny_dirs, tmp_path, capsys):
    out = tmp_path / "result.npz"
    assert main(["analyze", "Cats sleep.", "--pair", "Dogs bark.", "--model", str(tiny_dirs["albert"]),
                 "--out", str(out)]) == 0
    with np.load(out) as saved:
        assert set(saved.files) == set(NPZ_KEYS)
        T = len(saved["tokens"])
        assert saved["attentions"].shape == (3, 4, T, T) and saved["hidden_states"].shape == (4, T, 32)
        assert saved["token_embeddings"].shape == (T, 16)


@pytest.mark.parametrize("args, message", [
    (["analyze", "   ", "--model", "embedded", "--out", "x.npz"], "Enter some text"),
    (["info", "--model", "/no/such/model"], "No model directory"),
    (["fill-mask", "A [MASK] here.", "--model", "embedded"], "no trained masked-LM head"),
    (["info", "--model", "https://huggingface.co/bert-base-uncased"], "neither a hub id"),
    (["analyze", "Hi.", "--model", "embedded", "--out", "/no/such/folder/x.npz"], "No such file or directory"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    done = run_cli(*args)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr and "Traceback" not in done.stderr


def test_fill_mask_without_a_mask_explains(tiny_dirs, capsys):
    assert main(["fill-mask", "No mask here.", "--model", str(tiny_dirs["bert"])]) == 2
    assert "write [MASK]" in capsys.readouterr().err
