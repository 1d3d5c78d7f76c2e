"""The fonts of the invoice PDF (invoice_pdf.py): Noto, embedded as subsets, so that any name prints.

What prints: Noto Sans (package manimgx-fonts) prints Latin, Greek and Cyrillic. When a text needs them, the
Noto Sans fonts beside it print Arabic, Hebrew, Armenian, Georgian, Ethiopic, Thai, Lao, Khmer, Myanmar,
Sinhala and the Indic scripts (Devanagari, Bengali, Gujarati, Gurmukhi, Kannada, Malayalam, Oriya, Tamil,
Telugu); Noto Sans Symbols and Noto Emoji print symbols and emoji (in black); Noto Sans CJK JP (package
noto-cjk-sans-jp-regular) prints Chinese, Japanese and Korean, Han characters in their Japanese forms where
the forms differ. HarfBuzz (uharfbuzz) shapes the text: Arabic letters join, Indic letters combine and
right-to-left text runs right to left.

What does not: a character that no font has (a script not listed, a private-use character) prints as
the replacement character (U+FFFD), and a combining mark that no font has is left out; so are control
characters and invisible format characters, except the two joiners that shaping reads.

Each fallback font is embedded only in a PDF whose text needs it (InvoicePDF.get_fallback_font).
"""

import unicodedata
from functools import cache
from pathlib import Path

import manimgx_fonts
import noto_cjk_sans_jp_regular
from fontTools import ttLib

from console.text import is_control

NOTO = Path(manimgx_fonts.__file__).parent
MAIN_FAMILY = "noto-sans"
MAIN_FONT = NOTO / "NotoSans[wght].ttf"  # a variable font; without variations fpdf2 embeds its Regular
SCRIPTS = (
    "Arabic",
    "Hebrew",
    "Armenian",
    "Georgian",
    "Ethiopic",
    "Devanagari",
    "Bengali",
    "Gujarati",
    "Gurmukhi",
    "Kannada",
    "Malayalam",
    "Oriya",
    "Tamil",
    "Telugu",
    "Sinhala",
    "Thai",
    "Lao",
    "Khmer",
    "Myanmar",
    "Symbols",
)
# family -> font file, in the order they are tried for a character Noto Sans lacks.
FALLBACK_FONTS = {
    **{f"noto-sans-{script.lower()}": NOTO / f"NotoSans{script}[wght].ttf" for script in SCRIPTS},
    "noto-emoji": NOTO / "NotoEmoji[wght].ttf",
    "noto-sans-cjk": Path(str(noto_cjk_sans_jp_regular.FONT_PATH)),
}
MISSING = "\ufffd"  # the replacement character, which Noto Sans has
JOINERS = {"\u200c", "\u200d"}  # zero-width non-joiner and joiner: they choose Arabic and Indic letter forms


@cache
def characters_of(font: Path) -> frozenset[int]:
    """The code points `font` has a glyph for (read once per process: the CJK font has 45,000)."""
    return frozenset(ttLib.TTFont(font, lazy=True).getBestCmap())


@cache
def printable_characters() -> frozenset[int]:
    return frozenset().union(*(characters_of(font) for font in (MAIN_FONT, *FALLBACK_FONTS.values())))


def fallback_family(character: str) -> str | None:
    """The first fallback family with a glyph for `character`, None when none has one."""
    code = ord(character)
    return next((family for family, font in FALLBACK_FONTS.items() if code in characters_of(font)), None)


def printable(text: str) -> str:
    """`text` as the fonts can print it: composed (NFC), line breaks kept, controls and invisible format
    characters left out, and MISSING for a character no font has."""
    return "".join(printed_as(character) for character in unicodedata.normalize("NFC", str(text)))


def printed_as(character: str) -> str:
    if character == "\n" or character in JOINERS:
        return character
    if is_control(character) or unicodedata.category(character) in ("Cf", "Cs"):
        return ""
    if ord(character) in printable_characters():
        return character
    # A mark without a glyph (a variation selector after an emoji) would print a marker after a fine letter.
    return "" if unicodedata.category(character).startswith("M") else MISSING
