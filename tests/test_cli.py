import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bertviz_core.cli import main
from bertviz_core.export import NPZ_KEYS
from checkpoint_truth import read_truth


def run_cli(*args):
    """The CLI in a real subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "bertviz_core", *args], capture_output=True, text=True, timeout=300)


def test_info_prints_sizes_and_parameters(tiny_dirs, capsys):
    assert main(["info", "--model", str(tiny_dirs["bert"])]) == 0
    out = capsys.readouterr().out
    assert "layers: 3" in out and "heads: 4" in out and "layer 3 feed-forward" in out and "MLM head" in out


@pytest.mark.parametrize("family", ["bert", "distilbert", "roberta"])
def test_info_prints_what_the_checkpoint_files_say(tiny_dirs, capsys, family):
    truth = read_truth(tiny_dirs[family], family)
    assert main(["info", "--model", str(tiny_dirs[family])]) == 0
    out = capsys.readouterr().out.split("read from the checkpoint:")[1]
    assert f"has_pooler: {truth.pooler}" in out and f"segment_types: {truth.segments}" in out
    assert f"positions: {truth.positions}" in out and f"lowercases: {truth.lowercase}" in out
    assert f"vocabulary: {truth.vocabulary}" in out


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


NURSE = "The nurse said that [MASK] was tired."


@pytest.mark.parametrize("method", ["integrated_gradients", "value_zeroing"])
def test_explain_json_gives_one_score_per_token_as_the_engine_does(offline, method, capsys):
    from bertviz_core import analyze
    from bertviz_core.explain.attributions import attribute
    from bertviz_core.explain.target import mask_target

    assert main(["explain", NURSE, "--model", "offline", "--method", method, "--target", "he", "--steps", "32",
                 "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    result = analyze(offline, NURSE)
    expected = attribute(offline, result, mask_target(offline, result, word="he"), method, steps=32)
    assert (found["method"], found["mask_index"], found["target"], found["tokens"]) == (
        method, 5, "he", list(result.tokens))
    assert found["target_id"] == offline.tokenizer.convert_tokens_to_ids("he")
    np.testing.assert_allclose(found["scores"], expected.scores, atol=1e-5)
    assert found["score"] == pytest.approx(expected.score, abs=1e-5)
    assert ("baseline_score" in found) == (method == "integrated_gradients")


def test_ablate_json_is_fill_mask_after_ablation(offline, capsys):
    from bertviz_core import analyze
    from bertviz_core.explain.interventions import ablate

    assert main(["ablate", NURSE, "--model", "offline", "--heads", "6:9,1:1", "--top-k", "3", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    expected = ablate(offline, analyze(offline, NURSE), [(5, 8), (0, 0)], top_k=3).masks[0]
    assert found["ablated"] == [[6, 9], [1, 1]] and found["model"] == offline.name
    guesses = found["masks"][0]["predictions"]
    assert [g["token"] for g in guesses] == list(expected.tokens)
    np.testing.assert_allclose([g["logit"] for g in guesses], expected.logits, atol=1e-5)


def test_sweep_and_patch_print_their_grids(offline, capsys):
    assert main(["sweep", NURSE, "--model", "offline", "--json"]) == 0
    sweep = json.loads(capsys.readouterr().out)
    assert np.array(sweep["change"]).shape == (offline.num_layers, offline.num_heads)
    assert main(["patch", NURSE, "The man said that [MASK] was tired.", "--model", "offline", "--json"]) == 0
    patch = json.loads(capsys.readouterr().out)
    assert np.array(patch["restored"]).shape == (offline.num_layers + 1, len(patch["clean_tokens"]))


@pytest.mark.parametrize("by", ["tokens", "components"])
def test_decompose_json_parts_and_bias_add_up_to_the_models_logit(offline, by, capsys):
    from bertviz_core import analyze
    from bertviz_core.explain.decompose import decompose_components, decompose_tokens
    from bertviz_core.explain.target import mask_target

    assert main(["decompose", NURSE, "--model", "offline", "--target", "he", "--by", by, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert list(found) == ["target", "target_id", "mask_index", "logit", "tokens", "parts", "bias"]
    result = analyze(offline, NURSE)
    expected = (decompose_tokens if by == "tokens" else decompose_components)(
        offline, result, mask_target(offline, result, word="he"))
    assert (found["target"], found["mask_index"], found["tokens"]) == ("he", 5, list(result.tokens))
    assert found["logit"] == pytest.approx(expected.logit, abs=1e-6)
    assert sum(part["value"] for part in found["parts"]) + found["bias"] == pytest.approx(found["logit"], rel=1e-4)
    sources = [part["source"] for part in found["parts"]]
    assert sources == (list(range(result.num_tokens)) if by == "tokens" else list(expected.names))
    assert "L6.H12" in sources or by == "tokens"


def test_routes_json_traces_edges_from_the_mask_down_to_the_input(offline, capsys):
    assert main(["routes", NURSE, "--model", "offline", "--threshold", "0.2", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["position"] == 5 and found["nodes"][0] == [offline.num_layers, 5] and found["threshold"] == 0.2
    assert all(edge["share"] >= 0.2 and edge["from"][0] == edge["to"][0] - 1 for edge in found["edges"])
    nodes = {tuple(node) for node in found["nodes"]}
    assert {tuple(edge["to"]) for edge in found["edges"]} | {tuple(edge["from"]) for edge in found["edges"]} <= nodes
    assert any(node[0] == 0 for node in nodes)  # traced down to the input


@pytest.mark.parametrize("args, message", [
    (["explain", "No mask here.", "--method", "attention"], "No mask in the text"),
    (["explain", NURSE, "--method", "attention", "--target", "supercalifragilistic"], "not one entry"),
    (["ablate", NURSE, "--heads", "7:1"], "there is no head 7:1"),
    (["ablate", NURSE, "--heads", "0:3"], "there is no head 0:3"),
    (["explain", NURSE, "--method", "grad_norm", "--model", "embedded"], "no trained masked-LM head"),
    (["patch", NURSE, "The young man said that [MASK] was tired."], "same number of tokens"),
    (["decompose", "No mask here."], "No mask in the text"),
    (["decompose", NURSE, "--by", "components", "--model", "embedded"], "no trained masked-LM head"),
    (["routes", NURSE, "--position", "99"], "not in the text"),
])
def test_explain_commands_refuse_bad_input_in_one_line(args, message):
    done = run_cli(*args, *([] if "--model" in args else ["--model", "offline"]))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("view", ["model", "head", "heatmap"])
def test_export_html_writes_the_view_as_the_app_draws_it(tiny_dirs, tmp_path, view, capsys):
    from bertviz_core import analyze, load_model
    from bertviz_core.charts.attention import view_figure

    out = tmp_path / "view.html"
    assert main(["export-html", "Cats chase mice.", "--view", view, "--layer", "2", "--head", "3", "--model",
                 str(tiny_dirs["bert"]), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    model = load_model(str(tiny_dirs["bert"]))
    title = view_figure(analyze(model, "Cats chase mice."), view, 1, 2).layout.title.text
    assert title in html and "<script src" not in html and len(html) > 3_000_000  # Plotly's JavaScript is inside
    assert "works offline" in capsys.readouterr().out


def test_export_html_refuses_a_head_that_does_not_exist(tmp_path):
    done = run_cli("export-html", "Hi.", "--view", "head", "--layer", "9", "--model", "offline", "--out",
                   str(tmp_path / "x.html"))
    assert done.returncode == 2 and "Layers run from 1 to 6" in done.stderr and done.stderr.count("\n") == 1


def test_compare_prints_both_tokenizations_and_the_cka_grid(offline, tmp_path, capsys):
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("She loves cats.\nThe bank of the river was flooded.\nParis is the capital of France.\n")
    assert main(["compare", "She loves unaffable cats.", "--model", "offline", "--model-b", "offline",
                 "--sentences", str(sentences), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["tokens"] == found["tokens_b"] and "##ffa" in found["tokens"]
    assert (found["words"], found["sentences"], found["debiased"]) == (19, 3, True)
    np.testing.assert_allclose(np.diag(found["cka"]), 1.0, atol=1e-5)


def test_lesson_prints_what_the_model_answers_at_each_step(offline, capsys):
    from bertviz_core import analyze
    from bertviz_core.lessons import load_lesson, role_head

    assert main(["lesson", "bert-path", "--model", "offline", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    lesson = load_lesson("bert-path")
    assert [s["title"] for s in found["steps"]] == [step.title for step in lesson.steps]
    by_kind = {s["kind"]: s["answer"] for s in found["steps"]}
    guessed = analyze(offline, "She is a [MASK] engineer.").masks[0]
    assert by_kind["guess_mask"]["top_guess"] == guessed.tokens[0]
    assert by_kind["next_sentence"] == {"probability_next": None}  # the offline model has no next-sentence head
    attention = next(s for s in found["steps"] if s["kind"] == "attended_token")
    layer, head = role_head(analyze(offline, "The cat sat on the mat."), "previous")
    assert (attention["answer"]["layer"], attention["answer"]["head"]) == (layer + 1, head + 1)


def test_lesson_refuses_a_bad_file_naming_its_line(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("title: Mine\nsteps: 3\n")
    done = run_cli("lesson", str(bad), "--model", "offline")
    assert done.returncode == 2 and done.stderr.strip() == "error: mine.yaml, line 2: steps: 3 is not of type 'array'"


def test_app_runs_the_entry_script_with_the_arguments_given(monkeypatch):
    """``bert-lens app --server.port 8502`` is ``streamlit run app_pages/app.py --server.port 8502``, with the local
    settings scripts/run_app.sh makes (unless already set)."""
    import os

    import streamlit.web.cli

    import app_pages

    started = []
    monkeypatch.setattr(streamlit.web.cli, "main", lambda args, prog_name: started.append(args))
    monkeypatch.setattr(os, "environ", {**os.environ, "BERT_LENS_MODELS": "bert-base-uncased"})
    monkeypatch.delitem(os.environ, "BERT_LENS_ALLOW_LOCAL_PATHS", raising=False)
    assert main(["app", "--server.port", "8502", "--theme.base=dark"]) == 0
    entry = str(Path(app_pages.__file__).with_name("app.py"))
    assert started == [["run", entry, "--server.port", "8502", "--theme.base=dark"]]
    assert os.environ["BERT_LENS_ALLOW_LOCAL_PATHS"] == "1" and os.environ["BERT_LENS_MODELS"] == "bert-base-uncased"


def test_a_command_whose_extra_is_not_installed_names_the_extra(monkeypatch, capsys):
    for name in [name for name in sys.modules if name.partition(".")[0] == "streamlit"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "streamlit", None)  # as if not installed: importing it fails
    assert main(["app"]) == 2
    assert capsys.readouterr().err == ("error: this needs streamlit, which comes with the app extra: "
                                       "pip install 'bert-lens[app]'\n")


def test_only_the_app_passes_unknown_arguments_on(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["info", "--server.port", "8502"])
    assert stopped.value.code == 2 and "unrecognized arguments: --server.port 8502" in capsys.readouterr().err
