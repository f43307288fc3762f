import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from safetensors.torch import load_file

from bertviz_core import LoadedModel, ModelLoadError, load_model, loading
from bertviz_core.loading import (DEFAULT_HUB_MODEL, OFFLINE_MLM_NAME, embedded_model_dir, estimated_parameters,
                                  is_local_spec)

from tiny_models import FAMILIES, save_tiny_model


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_loads_with_its_trained_head(tiny_models, family):
    model = tiny_models[family]
    assert isinstance(model, LoadedModel)
    assert model.family == family and model.source == "local" and model.has_mlm_head
    assert not model.model.training
    assert all(not p.requires_grad for p in model.model.parameters())
    assert model.model.config._attn_implementation == "eager"


@pytest.mark.parametrize("family", FAMILIES)
def test_checkpoint_without_head_loads_as_bare_encoder(tmp_path, family):
    model = load_model(str(save_tiny_model(family, tmp_path / family, with_head=False)))
    assert not model.has_mlm_head
    assert model.model is model.encoder  # the bare encoder class, not a masked-LM class with a random head
    with pytest.raises(ValueError, match="no trained masked-LM head"):
        model.mlm_logits(torch.zeros(1, model.config.hidden_size))


@pytest.mark.parametrize("family", FAMILIES)
def test_head_weights_are_the_saved_ones(tiny_dirs, tiny_models, family):
    """The head in use is the checkpoint's, not a fresh random initialisation."""
    saved = load_file(tiny_dirs[family] / "model.safetensors")
    prefix = tiny_models[family].model.base_model_prefix + "."
    head_keys = [key for key in saved if not key.startswith(prefix)]
    assert head_keys
    state = tiny_models[family].model.state_dict()
    for key in head_keys:
        torch.testing.assert_close(state[key], saved[key], rtol=0, atol=0)


def test_embedded_model_is_real_minilm(embedded):
    shipped = json.loads((embedded_model_dir() / "config.json").read_text())  # the package's own file, read as text
    assert embedded.name == "all-MiniLM-L6-v2" and embedded.source == "embedded"
    assert (embedded.num_layers, embedded.num_heads, embedded.config.hidden_size) == (
        shipped["num_hidden_layers"], shipped["num_attention_heads"], shipped["hidden_size"])
    assert not embedded.has_mlm_head
    assert f"{shipped['num_hidden_layers']} layers x {shipped['num_attention_heads']} heads" in embedded.banner


def test_default_model_here_is_the_offline_fallback():
    model = load_model(hub_timeout=1.0)  # the tests run with the hub switched off (conftest.py)
    assert model.source == "offline" and model.name == OFFLINE_MLM_NAME and model.has_mlm_head
    assert model.reason.startswith("Offline") and DEFAULT_HUB_MODEL in model.reason


@pytest.mark.parametrize("cached, reachable, reason", [
    (True, False, "is in the local cache"), (False, True, "hub answers"), (False, False, "cannot be reached")])
def test_default_choice_prefers_bert_base_when_it_can_be_had(monkeypatch, cached, reachable, reason):
    monkeypatch.setattr(loading, "in_hub_cache", lambda repo_id: cached)
    monkeypatch.setattr(loading, "hub_reachable", lambda timeout: reachable)
    spec, why = loading.default_choice()
    assert spec == (DEFAULT_HUB_MODEL if cached or reachable else "offline") and reason in why


def test_default_falls_back_when_bert_base_fails_to_download(monkeypatch):
    monkeypatch.setattr(loading, "hub_reachable", lambda timeout: True)  # but the download itself is switched off
    model = load_model(hub_timeout=0.5)
    assert model.name == OFFLINE_MLM_NAME and "could not be loaded" in model.reason


def test_default_falls_back_to_the_embedded_model_when_the_offline_one_is_damaged(monkeypatch, tmp_path):
    monkeypatch.setattr(loading, "OFFLINE_MLM_DIR", tmp_path)
    model = load_model(hub_timeout=0.5)
    assert model.source == "embedded" and "could not be loaded either" in model.reason


@pytest.mark.parametrize("spec, message", [
    ("/no/such/dir", "No model directory"),
    ("no-such-org/no-such-model-xyz", "cannot be reached|not in the local cache"),
    ("foo bar", "neither a hub id"),
    ("https://huggingface.co/bert-base-uncased", "neither a hub id"),
])
def test_unknown_models_are_refused_clearly(spec, message):
    with pytest.raises(ModelLoadError, match=message):
        load_model(spec, hub_timeout=0.5)


def test_directory_without_weights_is_refused(tmp_path, tiny_dirs):
    (tmp_path / "config.json").write_text((tiny_dirs["bert"] / "config.json").read_text())
    with pytest.raises(ModelLoadError, match="Cannot load"):
        load_model(str(tmp_path))


def test_non_bert_family_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ModelLoadError, match="gpt2 model"):
        load_model(str(tmp_path))


def test_local_specs_are_told_from_hub_ids(tiny_dirs):
    assert is_local_spec(str(tiny_dirs["bert"])) and is_local_spec("./model") and is_local_spec("~/x")
    assert is_local_spec("/no/such/dir")
    assert not is_local_spec("bert-base-uncased") and not is_local_spec("google/electra-small-generator")
    assert not is_local_spec("some-org/model-v1.5")
    assert not is_local_spec("embedded") and not is_local_spec("")


@pytest.mark.parametrize("family", FAMILIES)
def test_size_estimate_matches_the_loaded_encoder(tiny_models, family):
    model = tiny_models[family]
    encoder_parameters = sum({id(p): p.numel() for p in model.encoder.parameters()}.values())
    pooler = getattr(model.encoder, "pooler", None)
    pooler_parameters = sum(p.numel() for p in pooler.parameters()) if pooler is not None else 0
    assert estimated_parameters(model.config) == encoder_parameters - pooler_parameters


def test_embedded_size_estimate(embedded):
    assert 4 * estimated_parameters(embedded.config) == pytest.approx(4 * 22_713_216, rel=0.01)


def test_a_model_over_the_size_limit_is_refused_before_loading(tiny_dirs):
    with pytest.raises(ModelLoadError, match=r"needs about 4 MB for its weights; this server allows 1 MB"):
        load_model(str(tiny_dirs["bert"]), max_bytes=1_000_000)
    assert load_model(str(tiny_dirs["bert"]), max_bytes=10_000_000).has_mlm_head


def test_a_checkpoint_that_needs_remote_code_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "my-model", "auto_map": {"AutoConfig": "configuration_my.MyConfig"}}))
    (tmp_path / "configuration_my.py").write_text("raise SystemExit('the model's own code ran')\n")
    with pytest.raises(ModelLoadError, match="never runs such code"):
        load_model(str(tmp_path))


def test_a_corrupt_weights_file_is_refused(tmp_path, tiny_dirs):
    for item in tiny_dirs["bert"].iterdir():
        (tmp_path / item.name).write_bytes(item.read_bytes())
    (tmp_path / "model.safetensors").write_bytes(b"\x00\x10not a safetensors file" * 100)
    with pytest.raises(ModelLoadError, match="Cannot load"):
        load_model(str(tmp_path))


def _whole(model: LoadedModel) -> bool:
    tensors = [*model.model.parameters(), *model.model.buffers()]
    return not any(tensor.is_meta for tensor in tensors) and model.decoder_tied == model.config.tie_word_embeddings


def test_models_loaded_in_threads_at_once_are_whole_and_compute_as_alone(tiny_dirs, tiny_models):
    """Visitors choosing models at the same moment: every load completes whole, with the same logits as the model
    loaded on its own (the masked-LM decoder used to come out on the meta device)."""
    with ThreadPoolExecutor(len(FAMILIES)) as pool:
        loaded = dict(zip(FAMILIES, pool.map(lambda family: load_model(str(tiny_dirs[family])), FAMILIES)))
    for family, model in loaded.items():
        assert _whole(model), family
        hidden = torch.randn(3, model.config.hidden_size, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(model.mlm_logits(hidden), tiny_models[family].mlm_logits(hidden))


def test_a_model_that_did_not_load_whole_is_refused(tiny_dirs):
    """What loads racing each other produced (and, racing, can leave transformers' process-wide switches in, so no
    test races them): a masked-LM decoder on the meta device. The check refuses it with a message."""
    model = load_model(str(tiny_dirs["bert"]))
    model.model.get_output_embeddings().bias = torch.nn.Parameter(torch.empty(model.config.vocab_size, device="meta"))
    with pytest.raises(ModelLoadError, match="did not load whole: cls.predictions.decoder.bias has no values"):
        loading._check_loaded(model)
