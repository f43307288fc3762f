"""Text people paste: the same cases for the in-process app tests and the browser tests."""

MIXED_SCRIPTS = "Hi 👋🏽 東京は晴れ مرحبا بالعالم zero\u200bwidth\u200djoin bell\u0007tab\tend"
BAD_INPUTS = {  # name -> (query parameters, words every page must show, or None)
    "whitespace": ({"text": "   "}, "Enter some text to analyse."),
    "one character": ({"text": "a"}, None),
    "5,000 words": ({"text": "word " * 5000}, "reads at most 512"),
    "emoji, CJK, right-to-left, zero-width and control characters": ({"text": MIXED_SCRIPTS}, None),
    "a pair over the limit": ({"text": "first " * 400, "pair": "second " * 400}, "reads at most 512"),
}
