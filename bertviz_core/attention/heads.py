"""What each head does in one analysis: where its attention goes, the role that makes it play, and the heads that
look from a token to a content word (Clark et al. 2019, "What does BERT look at?").

Names as in ``analysis``: ``L`` layers, ``H`` heads, ``T`` tokens; ``R`` rows and ``C`` columns a view shows. Every
array returned is a read-only float32 numpy copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..analysis import Analysis, frozen_array
from ..qkv import _check_index
from .views import ViewOptions, bare_token, is_punctuation, unit_kinds, view_matrix

ROLE_SHARE = 0.5
"""A head plays a positional or sink role when at least this share of its attention (mean over queries) goes there."""
BROAD_ENTROPY = 0.8
"""A head is broad when its mean row entropy is at least this fraction of log(T), the entropy of uniform attention."""
ROLES = ("previous-token head", "next-token head", "[CLS] sink", "[SEP] sink", "punctuation sink", "self",
         "broad", "mixed")
"""Every label ``head_roles`` gives, in the order the rules are tried: the first that holds wins."""
STOP_WORDS = frozenset("""
    a about above across after afterwards again against all almost alone along already also although always am
    among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere are around as at
    back be became because become becomes becoming been before beforehand behind being below beside besides
    between beyond bill both bottom but by call can cannot cant co con could couldnt cry de describe detail do
    done down due during each eg eight either eleven else elsewhere empty enough etc even ever every everyone
    everything everywhere except few fifteen fifty fill find fire first five for former formerly forty found
    four from front full further get give go had has hasnt have he hence her here hereafter hereby herein
    hereupon hers herself him himself his how however hundred i ie if in inc indeed interest into is it its
    itself keep last latter latterly least less ltd made many may me meanwhile might mill mine more moreover
    most mostly move much must my myself name namely neither never nevertheless next nine no nobody none noone
    nor not nothing now nowhere of off often on once one only onto or other others otherwise our ours ourselves
    out over own part per perhaps please put rather re same see seem seemed seeming seems serious several she
    should show side since sincere six sixty so some somehow someone something sometime sometimes somewhere
    still such system take ten than that the their them themselves then thence there thereafter thereby
    therefore therein thereupon these they thick thin third this those though three through throughout thru thus
    to together too top toward towards twelve twenty two un under until up upon us very via was we well were
    what whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever whether which
    while whither who whoever whole whom whose why will with within without would yet you your yours yourself
    yourselves
""".split())
"""English function words ('the', 'of', 'was'): scikit-learn's ``ENGLISH_STOP_WORDS``, written out here because
importing scikit-learn for a list of 318 words costs a server 137 MB (SciPy comes with it); a test checks the
two agree."""

@dataclass(frozen=True, eq=False)
class HeadStatistics:
    """Where each head sends its attention in this analysis, as a view shows it (``ViewOptions``): every array is
    [L, H], a mean over the view's R query rows, on its C key columns."""

    num_keys: int
    """C, the columns each row spreads its attention over (uniform attention has entropy log C)."""
    entropy: np.ndarray
    """Row entropy in nats (0 log 0 = 0), mean over the rows."""
    to_cls: np.ndarray
    """Share of each row on the first token ([CLS], <s>), mean over the rows."""
    to_sep: np.ndarray
    """Share on special tokens other than the first ([SEP], </s>), mean over the rows."""
    to_punctuation: np.ndarray
    """Share on non-special tokens (or words) made only of punctuation, mean over the rows."""
    to_previous: np.ndarray
    """A[i, i - 1], mean over the rows whose previous token (or word) is a column; 0 when none is."""
    to_next: np.ndarray
    """A[i, i + 1], likewise."""
    to_self: np.ndarray
    """A[i, i], mean over the rows that are also columns."""


def head_statistics(analysis: Analysis, options: ViewOptions = ViewOptions()) -> HeadStatistics:
    """Entropy and the share of attention on [CLS], [SEP], punctuation, the previous, next and same token, per head.

    With options, on what the view shows: hidden tokens' share is given back to the rest, words replace pieces,
    a pair block keeps only its rows and columns."""
    view = view_matrix(analysis, analysis.attentions, options)
    attentions = view.matrix  # [L, H, R, C]
    kinds = {kind: mask[view.column_positions] for kind, mask in unit_kinds(analysis, options.words).items()}  # [C]
    offsets = view.column_positions[None, :] - view.row_positions[:, None]  # [R, C] key minus query position
    return HeadStatistics(
        num_keys=attentions.shape[-1],
        entropy=frozen_array(_row_mean(_entropy(attentions))),  # [L, H]
        to_cls=frozen_array(_row_mean(attentions @ kinds["first"].astype(np.float32))),  # [L, H]
        to_sep=frozen_array(_row_mean(attentions @ kinds["separator"].astype(np.float32))),  # [L, H]
        to_punctuation=frozen_array(_row_mean(attentions @ kinds["punctuation"].astype(np.float32))),  # [L, H]
        to_previous=frozen_array(_offset_share(attentions, offsets == -1)),  # [L, H]
        to_next=frozen_array(_offset_share(attentions, offsets == 1)),  # [L, H]
        to_self=frozen_array(_offset_share(attentions, offsets == 0)),  # [L, H]
    )


def head_roles(stats: HeadStatistics) -> tuple[tuple[str, ...], ...]:
    """[L][H] the role each head plays in this analysis: the first rule of ``ROLES`` that holds."""
    broad = BROAD_ENTROPY * math.log(max(stats.num_keys, 1))
    shares = (stats.to_previous, stats.to_next, stats.to_cls, stats.to_sep, stats.to_punctuation, stats.to_self)
    L, H = stats.entropy.shape

    def role(layer: int, head: int) -> str:
        for name, share in zip(ROLES, shares):
            if share[layer, head] >= ROLE_SHARE:
                return name
        return "broad" if stats.entropy[layer, head] >= broad else "mixed"

    return tuple(tuple(role(layer, head) for head in range(H)) for layer in range(L))


def _entropy(attentions: np.ndarray) -> np.ndarray:
    """[..., T, T] -> [..., T] entropy of each row in nats."""
    logs = np.log(attentions, out=np.zeros_like(attentions), where=attentions > 0)  # [..., T, T]
    return -np.einsum("...ij,...ij->...i", attentions, logs)  # [..., T]


def _row_mean(values: np.ndarray) -> np.ndarray:
    """[L, H, R] -> [L, H] mean over rows; zeros when the view has no rows."""
    return values.mean(axis=-1) if values.shape[-1] else np.zeros(values.shape[:-1])


def _offset_share(attentions: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """[L, H, R, C] -> [L, H] each row's weight on its paired column ([R, C] bool, at most one per row), mean over
    the rows that have one; 0 if none do."""
    having = pairs.any(axis=-1)  # [R]
    picked = np.einsum("lhij,ij->lhi", attentions, pairs.astype(np.float32))  # [L, H, R]
    return _row_mean(picked[..., having])


@dataclass(frozen=True)
class ContentHead:
    """A head in which one query token's strongest key is a content word."""

    layer: int
    head: int
    key: int
    """The content token the query attends to most in this head."""
    weight: float


def is_content(analysis: Analysis, index: int) -> bool:
    """Is token ``index`` part of a content word: not special ([CLS], [SEP]), not punctuation, and not one of
    English's function words ('the', 'of', 'was'; scikit-learn's stop-word list)?"""
    token = bare_token(analysis.tokens[index]).lower()
    return not analysis.special_mask[index] and not is_punctuation(token) and token not in STOP_WORDS


def first_content_token(analysis: Analysis) -> int:
    """The first token of a content word (``is_content``); else the first token after [CLS] (0 when there is none)."""
    return next((i for i in range(analysis.num_tokens) if is_content(analysis, i)), 1 if analysis.num_tokens > 2 else 0)


def content_heads(analysis: Analysis, query: int, count: int = 3) -> tuple[ContentHead, ...]:
    """The ``count`` heads, over every layer, whose strongest key for token ``query`` is a content word (``is_content``)
    other than the query itself, the heaviest such weight first. Many heads send most of a token's attention to [CLS] or
    [SEP] instead (Clark et al. 2019 read this as a head with nothing to do on this token)."""
    _check_index("query", query, analysis.num_tokens)
    rows = analysis.attentions[:, :, query, :]  # [L, H, T]
    strongest = rows.argmax(axis=-1)  # [L, H]
    found = [ContentHead(layer, head, int(key), float(rows[layer, head, key]))
             for (layer, head), key in np.ndenumerate(strongest) if key != query and is_content(analysis, int(key))]
    return tuple(sorted(found, key=lambda item: -item.weight)[:count])
