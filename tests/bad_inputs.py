"""Text people paste: the same cases for the in-process app tests and the browser tests."""

MIXED_SCRIPTS = "Hi 👋🏽 東京は晴れ مرحبا بالعالم zero\u200bwidth\u200djoin bell\u0007tab\tend"
NO_WARNING = ""
"""A valid if odd input: the page must show no warning at all."""
BAD_INPUTS = {  # name -> (query parameters, words every page must show, or NO_WARNING)
    "whitespace": ({"text": "   "}, "Enter some text to analyse."),
    "one character": ({"text": "a"}, NO_WARNING),
    "5,000 words": ({"text": "word " * 5000}, "reads at most 512"),
    # Uncased WordPiece (the default offline model) has no piece for the emoji or for 晴.
    "emoji, CJK, right-to-left, zero-width and control characters": (
        {"text": MIXED_SCRIPTS}, "vocabulary has no piece for “👋🏽”, “晴”: the model reads these 2 stretches as [UNK]"),
    "a pair over the limit": ({"text": "first " * 400, "pair": "second " * 400}, "reads at most 512"),
}
