"""The text an uncompressed fpdf2 PDF draws, read back without a PDF library.

With embedded TrueType fonts fpdf2 writes glyph codes, not letters: each font's ToUnicode map turns them
back into text. One string per text object (BT ... ET), which is one cell or one line of a multi_cell;
right-to-left text comes back in the order it is drawn, left to right.
"""

import re
import zlib

OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
# In a page's contents: a font change, a string drawn, the end of a text object, or a graphics state saved
# (q) or restored (Q): fpdf2 wraps a line that changes font in q ... Q, which brings the font before it back.
TOKEN = re.compile(rb"/(?P<font>F\d+) [\d.]+ Tf|\((?P<string>(?:\\.|[^\\)])*)\) ?Tj|(?<!\S)(?P<op>ET|q|Q)(?!\S)", re.S)
ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
ESCAPED = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def shown_text(pdf: bytes) -> list[str]:
    objects = {int(number): body for number, body in OBJECT.findall(pdf)}
    maps = {name.decode(): to_unicode(objects, int(ref)) for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", pdf)}
    texts = []
    for ref in re.findall(rb"/Contents (\d+) 0 R", pdf):
        texts += text_objects(stream_of(objects[int(ref)]), maps)
    return texts


def inflated(pdf: bytes) -> bytes:
    """`pdf` with its Flate-compressed streams decompressed, for `shown_text` (downloads are compressed)."""

    def inflate(match: re.Match) -> bytes:
        body = match.group(0)
        found = STREAM.search(body)
        if found is None or b"/FlateDecode" not in body[: found.start()]:
            return body
        return body[: found.start(1)] + zlib.decompress(found.group(1)) + body[found.end(1) :]

    return OBJECT.sub(inflate, pdf)


def stream_of(body: bytes) -> bytes:
    found = STREAM.search(body)
    return found.group(1) if found else b""


def to_unicode(objects: dict[int, bytes], font_ref: int) -> dict[int, str]:
    """Glyph code -> text, from the font's ToUnicode CMap (fpdf2 writes `<code> <UTF-16BE>` pairs)."""
    found = re.search(rb"/ToUnicode (\d+) 0 R", objects[font_ref])
    if not found:
        return {}
    pairs = re.findall(rb"<([0-9A-Fa-f]{4})> <([0-9A-Fa-f]+)>", stream_of(objects[int(found.group(1))]))
    return {int(code, 16): bytes.fromhex(text.decode()).decode("utf-16-be") for code, text in pairs}


def text_objects(contents: bytes, maps: dict[str, dict[int, str]]) -> list[str]:
    texts, current, fonts = [], "", [None]  # fonts: the font in use, one per saved graphics state
    for match in TOKEN.finditer(contents):
        if match["font"] is not None:
            fonts[-1] = match["font"].decode()
        elif match["string"] is not None:
            current += decode(unescape(match["string"]), maps.get(fonts[-1], {}))
        elif match["op"] == b"q":
            fonts.append(fonts[-1])
        elif match["op"] == b"Q":
            fonts.pop()
        elif current:
            texts.append(current)
            current = ""
    return texts


def unescape(string: bytes) -> bytes:
    def one(match: re.Match) -> bytes:
        escaped = match.group(1)
        if escaped[:1] in b"01234567":
            return bytes([int(escaped, 8) & 0xFF])
        return ESCAPED.get(escaped, escaped)

    return ESCAPE.sub(one, string)


def decode(codes: bytes, cmap: dict[int, str]) -> str:
    """Two bytes per glyph (Identity-H encoding)."""
    return "".join(cmap.get(int.from_bytes(codes[i : i + 2], "big"), "\ufffd") for i in range(0, len(codes) - 1, 2))
