"""Regular expressions that the domain's checks and the OpenAPI document (http/openapi.py) share.

They are spelled to mean the same in Python and to the document's readers (JSON Schema
validators: ECMAScript, or Python with ``re.ASCII``): no ``\\s``, ``\\d`` or ``\\w``, whose meaning
differs between those. Python's ``$`` also matches before a final newline, and msgspec checks a
declared pattern with ``re.search``, so every pattern anchored at its end ends with ``$(?!\\n)``
(the end, in Python and in ECMAScript alike; tests/domain/test_patterns.py checks every declared
one). An unanchored one is found anywhere in the text, as in JSON Schema."""

from __future__ import annotations

import re
from typing import Any

# Python's whitespace: what str.isspace accepts, and str.strip and str.split remove.
SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Text that is not blank: something is left once whitespace is stripped.
NOT_BLANK = rf"[^{SPACE}]"
EMAIL = rf"^[^@{SPACE}]+@[^@{SPACE}]+\.[^@{SPACE}]+$(?!\n)"
EMAIL_RE = re.compile(EMAIL)

# The key under which a request struct's field states what is checked of it after decoding
# (``checked``); the OpenAPI document (http/_openapi.py) puts it in the field's schema.
CHECKED_KEY = "x-checked"


def checked(**schema: Any) -> dict[str, Any]:
    """``extra_json_schema`` of constraints a domain check enforces after decoding, with messages
    (and an order among other checks) of its own: the document states them, over the decoder's
    looser ones, and decoding leaves them alone."""
    return {CHECKED_KEY: schema}
