"""The page state: widgets whose values live in the URL, so the address bar always reproduces the view.

One rule for URL names (``catalog``): the shared names (``text``, ``pair``, ``model``, ``layer``, ``head``) mean the
same on every page; every other name belongs to one page, declared in its ``PageInfo.params``, so no value written by
one page is ever read by another as something else. A widget under an undeclared name fails at once.
"""

from __future__ import annotations

import streamlit as st

from bertviz_core.charts import token_labels
from app_pages.catalog import params_of

PAGE = "page_path"
"""Session key of the running page's URL path, which app.py sets before the page runs."""


def url_index(name: str, label: str, count: int, *, column=st) -> int:
    """A 1-based number picker kept in the URL (``?layer=3``); returns the 0-based index."""
    if name in st.session_state and st.session_state[name] > count:
        del st.session_state[name]  # a smaller model was loaded
    value = column.selectbox(label, range(1, count + 1), key=seeded(name, min(max(url_number(name, 1), 1), count)))
    set_url(**{name: str(value)})
    return value - 1


def url_slider(name: str, label: str, low: int, high: int, default: int, *, column=st, **options) -> int:
    """An integer slider kept in the URL (``?length=128``)."""
    if name in st.session_state and not low <= st.session_state[name] <= high:
        del st.session_state[name]  # the model changed and the old value no longer fits
    value = column.slider(label, low, high, key=seeded(name, min(max(url_number(name, default), low), high)), **options)
    set_url(**{name: str(value)})
    return value


def url_token(name: str, label: str, tokens, default: int, *, column=st, first: str | None = None) -> int:
    """A token picker kept in the URL by position (``?query=2``), labelled like the charts ('2 bank'). With
    ``first``, that entry comes before the tokens (as 0) and token i is entry i + 1, still labelled 'i ...'."""
    labels = ([first] if first is not None else []) + token_labels(tokens)
    if name in st.session_state and st.session_state[name] >= len(labels):
        del st.session_state[name]  # a shorter sentence was typed
    initial = url_number(name, default)
    value = column.selectbox(label, range(len(labels)), format_func=labels.__getitem__,
                             key=seeded(name, initial if 0 <= initial < len(labels) else default))
    set_url(**{name: str(value)})
    return value


def url_choice(name: str, label: str, options: list[str], default: str, *, column=st, **kwargs) -> str:
    """A radio choice kept in the URL by its text (``?view=Model+view``)."""
    initial = url(name, default)
    value = column.radio(label, options, key=seeded(name, initial if initial in options else default), **kwargs)
    set_url(**{name: value})
    return value


def url_flag(name: str, label: str, *, column=st, **kwargs) -> bool:
    """A checkbox kept in the URL as ``?name=1`` (absent when off)."""
    value = column.checkbox(label, key=seeded(name, url(name, "") == "1"), **kwargs)
    set_url(**{name: "1" if value else ""})
    return value


def url_pills(name: str, label: str, options: list[int], labels: list[str], **kwargs) -> int | None:
    """Token chips to click, one at a time, kept in the URL by position (``?masked=5``); None when none is chosen."""
    initial = url_number(name, -1)
    if name in st.session_state and st.session_state[name] not in options:
        del st.session_state[name]  # the sentence changed under the choice
    value = st.pills(label, options, format_func=labels.__getitem__, selection_mode="single",
                     key=seeded(name, initial if initial in options else None), **kwargs)
    set_url(**{name: "" if value is None else str(value)})
    return value


def url_text(name: str, label: str, default: str, *, lines: int = 1, column=st, **options) -> str:
    """A text box kept in the URL; ``lines`` > 1 makes it a text area."""
    widget = column.text_area if lines > 1 else column.text_input
    if lines > 1:
        options["height"] = 34 * lines
    value = widget(label, key=seeded(name, url(name, default)), **options)
    set_url(**{name: value})
    return value


def seeded(key: str, initial):
    """Give a widget its first value (from the URL) once per session, and keep it across page switches.

    Streamlit forgets the state of widgets a page does not draw; the kept copy brings it back.
    """
    kept = f"kept_{key}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(kept, initial)
    st.session_state[kept] = st.session_state[key]
    return key


def _check_name(name: str) -> None:
    page = st.session_state.get(PAGE, "")
    if name not in params_of(page):
        raise KeyError(f"The URL name {name!r} is neither shared nor declared by the page {page!r} (catalog.py).")


def url(name: str, default: str) -> str:
    return st.query_params.get(name, default)


def url_number(name: str, default: int) -> int:
    try:
        return int(url(name, str(default)))
    except ValueError:
        return default


def set_url(**values: str) -> None:
    """Write the current choices back so the address bar always reproduces the view."""
    for name, value in values.items():
        _check_name(name)
        if value:
            if st.query_params.get(name) != value:
                st.query_params[name] = value
        elif name in st.query_params:
            del st.query_params[name]


TRAINED_HEAD = "trained_head"
"""Session key of the classifier trained on the Applications page, with the location of the model it was trained on
(apart from the head pickers' "head"): another model of the same width gives other vectors."""


def keep_trained_head(model, head) -> None:
    st.session_state[TRAINED_HEAD] = (model.location, head)


def trained_head(model):
    """The classifier trained on the Applications page for ``model`` in this session, or None."""
    trained_on, head = st.session_state.get(TRAINED_HEAD, (None, None))
    return head if trained_on == model.location else None
