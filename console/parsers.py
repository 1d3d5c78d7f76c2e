"""JSON that the console reads: bounded in size and in depth, with finite numbers only.

`load_json` is the one way the console turns bytes into JSON values; `read_body` adds the APIs' rule that a
body is one JSON object. `JsonParser` is the API's parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]) and
`console.api.JsonBodyMiddleware` checks the body of every API request before its view runs, so that a view that reads
no body (enable, swap...) refuses a bad one too rather than acting on it. A body that is too large is
refused before it is read further, one that nests too deep before it is parsed, so neither can cost memory
or a RecursionError. `FormParser` reads application/x-www-form-urlencoded bodies (Agora's API as some
public SDKs call it) under the same size limit.
"""

import json
import math
import re
from itertools import accumulate

from django.http import QueryDict
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

# A JSON body of the API holds a few fields; 1 MB leaves room for any of them and bounds what a caller can
# make the server read and build.
MAX_BYTES = 1024 * 1024
# The console's own shapes nest three or four levels; 32 leaves room and keeps parsing far from the
# interpreter's recursion limit.
MAX_DEPTH = 32


class BadJSON(ValueError):
    """JSON the console refuses; the message says why, in words for the caller."""


class JSONTooLarge(BadJSON):
    pass


# Strings are skipped (a bracket inside one does not nest), then only brackets are kept.
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# A \u escape of a UTF-16 surrogate: paired, it is one character; alone, it is no character at all.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON text, found without parsing it (and without recursion)."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _refuse_lone_surrogates(value) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadJSON("The JSON has a \\u escape that is not a character (a lone surrogate).") from None


def _refuse_constant(name: str):
    raise BadJSON(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJSON(f"The number {text[:20]} is too large.")
    return value


def load_json(raw: bytes, *, encoding: str = "utf-8", max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH):
    """The JSON value in `raw`, or BadJSON (JSONTooLarge when it has more than `max_bytes` bytes)."""
    if len(raw) > max_bytes:
        raise JSONTooLarge(f"The JSON is larger than {max_bytes:,} bytes.")
    try:
        text = raw.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        raise BadJSON(f"The JSON is not valid {encoding} text.") from None
    if nesting_depth(text) > max_depth:
        raise BadJSON(f"The JSON nests arrays and objects more than {max_depth} levels deep.")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except BadJSON:
        raise
    except ValueError as error:  # does not parse, or an integer with more digits than Python reads
        raise BadJSON(f"The JSON does not parse: {error}.") from None
    if _SURROGATE_ESCAPE.search(text):  # text that cannot be stored, compared or encoded as UTF-8
        _refuse_lone_surrogates(value)
    return value


def read_body(raw: bytes, *, encoding: str = "utf-8") -> dict:
    """An API request's JSON body: one object (load_json's limits apply), else BadJSON."""
    value = load_json(raw, encoding=encoding)
    if not isinstance(value, dict):
        raise BadJSON("The body must be a JSON object.")
    return value


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The body is too large."
    default_code = "payload_too_large"


def read_at_most(stream, limit: int) -> bytes:
    """The stream's bytes up to one past `limit`: enough to know it is too long, never all of a huge body."""
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class JsonParser(BaseParser):
    """application/json bodies through `load_json`: 413 when too large, 400 when refused or malformed."""

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        raw = read_at_most(stream, MAX_BYTES)
        try:
            return read_body(raw, encoding=encoding)
        except JSONTooLarge:
            raise PayloadTooLarge(f"The body is larger than {MAX_BYTES:,} bytes.") from None
        except BadJSON as error:
            raise exceptions.ParseError(str(error)) from None


class FormParser(BaseParser):
    """application/x-www-form-urlencoded bodies as a QueryDict: 413 past MAX_BYTES, Django's field limit."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        raw = read_at_most(stream, MAX_BYTES)
        if len(raw) > MAX_BYTES:
            raise PayloadTooLarge(f"The body is larger than {MAX_BYTES:,} bytes.")
        try:
            return QueryDict(raw, encoding=encoding)
        except UnicodeDecodeError:
            raise exceptions.ParseError(f"The form body is not valid {encoding} text.") from None
