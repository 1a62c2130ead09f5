"""Text functions. FileMaker counts characters (not bytes) and its return character is CR (``¶``).

Value lists ("values") are return-separated; functions that return values (LeftValues, FilterValues,
SortValues…) end every value with a return, as FileMaker does.  Searches (Position, PatternCount,
FilterValues) ignore case; Substitute, Exact and Filter do not.
"""
from __future__ import annotations

import re
from decimal import Decimal

from ..values import ZERO, is_empty, text_to_number, to_int, to_number, to_text
from ...errors import E_NOT_ENOUGH_MEMORY
from ...limits import MAX_TEXT_LENGTH
from . import CalcError, function

CHAR_NUMBER_END = Decimal("1e400")


def text_limit_error() -> CalcError:
    """What building text past :data:`~fmscript.limits.MAX_TEXT_LENGTH` gives."""
    return CalcError(f"the text would be longer than {MAX_TEXT_LENGTH:,} characters", code=E_NOT_ENOUGH_MEMORY)


_VALUE_SPLIT = re.compile(r"\r\n|\r|\n")
# A word: letters and digits, joined by an apostrophe, a point or a comma between them ("don't", "3.14").
_WORD = re.compile(r"[^\W_]+(?:['’.,:][^\W_]+)*")


def values_of(text: str) -> list[str]:
    """The return-separated values of a text (a final return does not start an empty value)."""
    if not text:
        return []
    vals = _VALUE_SPLIT.split(text)
    if vals and vals[-1] == "":
        vals.pop()
    return vals


def _join_values(vals) -> str:
    return "".join(v + "\r" for v in vals)


@function("Length ( text )")
def length(v):
    """The number of characters."""
    return Decimal(len(v if type(v) is str else to_text(v)))


@function("Left ( text ; numberOfCharacters )")
def left(v, n):
    """The first n characters."""
    k = to_int(n)
    return to_text(v)[:k] if k > 0 else ""


@function("Right ( text ; numberOfCharacters )")
def right(v, n):
    """The last n characters."""
    k = to_int(n)
    return to_text(v)[-k:] if k > 0 else ""


@function("Middle ( text ; start ; numberOfCharacters )")
def middle(v, start, n):
    """n characters from a 1-based start."""
    s = max(to_int(start), 1)
    k = to_int(n)
    return to_text(v)[s - 1: s - 1 + k] if k > 0 else ""


@function("Substitute ( text ; searchString ; replaceString )", lists=True, args=(2, None))
def substitute(v, *pairs):
    """Replaces every occurrence (case-sensitive); several ``[ search ; replace ]`` pairs may be given.

    Each pair works on the result of the previous one."""
    text = to_text(v)
    if pairs and isinstance(pairs[0], tuple):
        todo = pairs
    else:
        if len(pairs) != 2:
            raise CalcError("Substitute takes text ; searchString ; replaceString")
        todo = (pairs,)
    for pair in todo:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise CalcError("each Substitute list is [ searchString ; replaceString ]")
        search, repl = to_text(pair[0]), to_text(pair[1])
        if search:
            if len(repl) > len(search) and len(text) + text.count(search) * (len(repl) - len(search)) \
                    > MAX_TEXT_LENGTH:
                raise text_limit_error()
            text = text.replace(search, repl)
    return text


def _find_all(text: str, search: str) -> list[int]:
    """Start offsets of every (overlapping) case-insensitive occurrence."""
    t, s = text.casefold(), search.casefold()
    if len(t) != len(text) or len(s) != len(search):  # casefold changed lengths (ß → ss): use lower()
        t, s = text.lower(), search.lower()
    out = []
    i = t.find(s)
    while i >= 0:
        out.append(i)
        i = t.find(s, i + 1)
    return out


@function("Position ( text ; searchString ; start ; occurrence )")
def position(v, search, start, occurrence):
    """The 1-based position of the nth occurrence of searchString from start (0 when not found).

    A negative occurrence searches backwards from start."""
    text, s = to_text(v), to_text(search)
    st, occ = to_int(start), to_int(occurrence)
    if not s or not text or occ == 0:
        return ZERO
    hits = _find_all(text, s)
    if occ > 0:
        hits = [h for h in hits if h >= max(st, 1) - 1]
        return Decimal(hits[occ - 1] + 1) if len(hits) >= occ else ZERO
    limit = st - 1 if st > 0 else len(text)
    back = [h for h in hits if h <= limit]
    return Decimal(back[occ] + 1) if len(back) >= -occ else ZERO


@function("PatternCount ( text ; searchString )")
def pattern_count(v, search):
    """How many times searchString occurs in the text, without overlaps (case-insensitive)."""
    s = to_text(search)
    if not s:
        return ZERO
    # "PatternCount begins at the start of text and counts each non-overlapping occurrence of
    # searchString": PatternCount ( "Mississippi" ; "issi" ) is 1.
    # https://help.claris.com/en/pro-help/content/patterncount.html
    count, end = 0, 0
    for i in _find_all(to_text(v), s):
        if i >= end:
            count, end = count + 1, i + len(s)
    return Decimal(count)


@function("Upper ( text )")
def upper(v):
    """The text in capitals."""
    return to_text(v).upper()


@function("Lower ( text )")
def lower(v):
    """The text in lowercase."""
    return to_text(v).lower()


@function("Proper ( text )")
def proper(v):
    """Each word starting with a capital, the rest in lowercase."""
    return re.sub(r"[^\W_]+", lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), to_text(v))


@function("Trim ( text )")
def trim(v):
    """The text without leading and trailing spaces."""
    return to_text(v).strip(" \u3000")


def _is_roman(ch: str) -> bool:
    return ch.isascii()


@function("TrimAll ( text ; trimSpaces ; trimType )")
def trim_all(v, trim_spaces, trim_type):
    """The text without leading, trailing and repeated spaces, as trimType says.

    trimType: 0 keeps one space between Roman words only, 1 also keeps one between Roman and non-Roman
    text, 2 only before Roman text after non-Roman text, 3 removes every space.  trimSpaces 1 also
    treats full-width spaces as spaces."""
    text = to_text(v)
    spaces = " \u3000" if to_int(trim_spaces) else " "
    kind = to_int(trim_type)
    cls = "[" + re.escape(spaces) + "]+"
    text = re.sub("^" + cls + "|" + cls + "$", "", text)
    if kind == 3:
        return re.sub(cls, "", text)

    def between(m):
        a = text[m.start() - 1]
        b = text[m.end()] if m.end() < len(text) else ""
        ra, rb = _is_roman(a), _is_roman(b)
        if ra and rb:
            return " "
        if not ra and not rb:
            return ""
        if kind == 1:
            return " "
        if kind == 2:
            return " " if (not ra and rb) else ""
        return ""

    return re.sub(cls, between, text)


@function("Replace ( text ; start ; numberOfCharacters ; replacementText )")
def replace(v, start, n, repl):
    """The text with numberOfCharacters characters from start replaced by replacementText."""
    text = to_text(v)
    s = max(to_int(start), 1) - 1
    k = max(to_int(n), 0)
    return text[:s] + to_text(repl) + text[s + k:]


@function("Exact ( originalText ; comparisonText )")
def exact(a, b):
    """1 when both texts are the same, case included."""
    return Decimal(1 if to_text(a) == to_text(b) else 0)


@function("Filter ( textToFilter ; filterText )")
def filter_(v, keep):
    """The characters of the text that appear in filterText, in their order (case-sensitive)."""
    allowed = set(to_text(keep))
    return "".join(ch for ch in to_text(v) if ch in allowed)


@function("FilterValues ( textToFilter ; filterValues )")
def filter_values(v, keep):
    """The values of the text that are also in filterValues (case-insensitive), each ending in a return."""
    allowed = {x.casefold() for x in values_of(to_text(keep))}
    return _join_values(x for x in values_of(to_text(v)) if x.casefold() in allowed)


def _words(text: str) -> list[re.Match]:
    return list(_WORD.finditer(text))


@function("WordCount ( text )")
def word_count(v):
    """The number of words."""
    return Decimal(len(_words(to_text(v))))


def _word_span(text: str, first: int, count: int) -> str:
    words = _words(text)
    if count <= 0 or first > len(words) or not words:
        return ""
    first = max(first, 1)
    last = min(first + count - 1, len(words))
    return text[words[first - 1].start(): words[last - 1].end()]


@function("LeftWords ( text ; numberOfWords )")
def left_words(v, n):
    """The first n words (with what lies between them)."""
    return _word_span(to_text(v), 1, to_int(n))


@function("RightWords ( text ; numberOfWords )")
def right_words(v, n):
    """The last n words."""
    text = to_text(v)
    k = to_int(n)
    total = len(_words(text))
    return _word_span(text, max(total - k + 1, 1), min(k, total))


@function("MiddleWords ( text ; startingWord ; numberOfWords )")
def middle_words(v, start, n):
    """n words from a 1-based starting word."""
    return _word_span(to_text(v), to_int(start), to_int(n))


@function("ValueCount ( text )")
def value_count(v):
    """The number of return-separated values."""
    return Decimal(len(values_of(to_text(v))))


@function("GetValue ( listOfValues ; valueNumber )")
def get_value(v, n):
    """The nth value (no return after it); empty when there is none."""
    vals = values_of(to_text(v))
    k = to_int(n)
    return vals[k - 1] if 1 <= k <= len(vals) else ""


@function("LeftValues ( text ; numberOfValues )")
def left_values(v, n):
    """The first n values, each ending in a return."""
    k = to_int(n)
    return _join_values(values_of(to_text(v))[:k]) if k > 0 else ""


@function("RightValues ( text ; numberOfValues )")
def right_values(v, n):
    """The last n values, each ending in a return."""
    k = to_int(n)
    return _join_values(values_of(to_text(v))[-k:]) if k > 0 else ""


@function("MiddleValues ( text ; startingValue ; numberOfValues )")
def middle_values(v, start, n):
    """n values from a 1-based starting value, each ending in a return."""
    s, k = max(to_int(start), 1), to_int(n)
    return _join_values(values_of(to_text(v))[s - 1: s - 1 + k]) if k > 0 else ""


@function("Quote ( text )")
def quote(v):
    """The text as a text literal in quotation marks: Evaluate ( Quote ( text ) ) gives the text back.

    Quotes, backslashes and a literal ¶ are escaped (Quote ( "abc\\¶" ) returns "abc\\¶"); a return is
    written ¶, which is a return inside a literal.  https://help.claris.com/en/pro-help/content/quote.html"""
    text = to_text(v).replace("\\", "\\\\").replace('"', '\\"').replace("¶", "\\¶").replace("\r", "¶")
    return f'"{text}"'


@function("Char ( number )")
def char(n):
    """The characters for Unicode code points; each group of 5 digits is one character, lowest first."""
    num = to_number(n)
    if num is None:
        return ""
    if num <= 0:
        return ""
    if num >= CHAR_NUMBER_END:
        raise CalcError("Char takes at most 80 characters' code points (400 digits)")
    k = int(num)
    out = []
    while k:
        k, cp = divmod(k, 100000)
        if cp:
            try:
                out.append(chr(cp))
            except (ValueError, OverflowError):
                pass
    # Two surrogate halves make one character; a lone half is no character and becomes U+FFFD, so no text
    # holds what UTF-8 cannot write (stdout, files and SQLite would refuse it).
    return "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


@function("Code ( text )")
def code(v):
    """The Unicode code points of the text as one number: 5 digits per character, the first character last."""
    text = to_text(v)
    if not text:
        return ""
    total = 0
    for ch in reversed(text):
        total = total * 100000 + ord(ch)
    return Decimal(total)


@function("SerialIncrement ( text ; incrementBy )")
def serial_increment(v, by):
    """The text with its last number increased by incrementBy, keeping its width (``INV-009`` → ``INV-010``)."""
    text = to_text(v)
    step = to_number(by) or ZERO
    m = re.search(r"(\d+)(\D*)$", text)
    if not m:
        return text
    digits = m.group(1)
    n = int(digits) + int(step)
    neg = n < 0
    s = str(abs(n)).rjust(len(digits), "0")
    return text[:m.start(1)] + ("-" if neg else "") + s + m.group(2)


def _sort_key(kind: int):
    from .datetime_fns import to_date, to_time, to_timestamp
    from ..values import Time, Timestamp

    if kind == 2:
        return lambda s: (0, text_to_number(s)) if text_to_number(s) is not None else (1, s.casefold())
    if kind in (3, 4, 5):
        conv = {3: to_date, 4: to_time, 5: to_timestamp}[kind]

        def key(s):
            try:
                x = conv(s)
            except CalcError:
                x = None
            if x is None:
                return (1, s.casefold())
            if isinstance(x, (Time, Timestamp)):
                return (0, x.seconds)
            return (0, Decimal(x.toordinal()))
        return key
    return lambda s: (0, s.casefold(), s)


@function("SortValues ( values {; datatype ; locale } )")
def sort_values(v, datatype=None, _locale=None):
    """The values sorted (datatype 1 text, 2 number, 3 date, 4 time, 5 timestamp; negative: descending)."""
    t = to_int(datatype) if datatype is not None and not is_empty(datatype) else 1
    kind = abs(t) or 1
    vals = values_of(to_text(v))
    vals.sort(key=_sort_key(kind), reverse=t < 0)
    return _join_values(vals)


@function("UniqueValues ( values {; datatype ; locale } )")
def unique_values(v, datatype=None, _locale=None):
    """The values without repeats, in their first order (datatype as for SortValues: 2 compares numbers)."""
    t = abs(to_int(datatype)) if datatype is not None and not is_empty(datatype) else 1
    key = _sort_key(t or 1)
    seen = set()
    out = []
    for x in values_of(to_text(v)):
        k = key(x)[:2]
        if k not in seen:
            seen.add(k)
            out.append(x)
    return _join_values(out)


@function("GetAsURLEncoded ( text )")
def get_as_url_encoded(v):
    """The text percent-encoded as UTF-8 for a URL (letters, digits and ``-_.~`` stay)."""
    import urllib.parse

    return urllib.parse.quote(to_text(v), safe="")


# -- styled text: fmscript's text has no styles, so these return the characters unchanged ------------------

_STYLES = ("Plain", "Bold", "Italic", "Underline", "HighlightYellow", "Condense", "Extend", "Strikethrough",
           "SmallCaps", "Superscript", "Subscript", "Uppercase", "Lowercase", "Titlecase", "WordUnderline",
           "DoubleUnderline", "AllStyles")
_STYLE_VALUES = {}
for _i, _name in enumerate(_STYLES):
    _value = Decimal(0 if _i == 0 else (1 << (_i - 1)) if _name != "AllStyles" else (1 << 16) - 1)
    _STYLE_VALUES[_name] = _value
    if _name == "Extend":
        continue  # also a function: registered below
    _fn = (lambda val: (lambda: val))(_value)
    _fn.__doc__ = f"The {_name} text style constant for TextStyleAdd and TextStyleRemove."
    function(_name, bare=True, category="text")(_fn)


@function("Extend ( non-repeatingField )", args=(0, 1), bare=True)
def extend(*value):
    """The value, for every repetition of a repeating calculation; written bare, the Extend text style.

    Outside a repeating calculation ``Extend ( x )`` is ``x``."""
    return value[0] if value else _STYLE_VALUES["Extend"]


@function("TextColor ( text ; RGB ( red ; green ; blue ) )", args=(2, 2))
def text_color(v, _rgb):
    """The text in a colour (fmscript keeps plain text: the characters come back unchanged)."""
    return to_text(v)


@function("TextColorRemove ( text {; RGB ( red ; green ; blue )} )", args=(1, 2))
def text_color_remove(v, _rgb=None):
    """The text without a colour (plain text: unchanged)."""
    return to_text(v)


@function("TextFont ( text ; fontName {; fontScript} )")
def text_font(v, _font, _script=None):
    """The text in a font (plain text: unchanged)."""
    return to_text(v)


@function("TextFontRemove ( text {; fontName ; fontScript} )")
def text_font_remove(v, *_font):
    """The text without a font (plain text: unchanged)."""
    return to_text(v)


@function("TextSize ( text ; fontSize )")
def text_size(v, _size):
    """The text in a point size (plain text: unchanged)."""
    return to_text(v)


@function("TextSizeRemove ( text {; fontSizeToRemove} )")
def text_size_remove(v, _size=None):
    """The text without a point size (plain text: unchanged)."""
    return to_text(v)


@function("TextStyleAdd ( text ; styles )")
def text_style_add(v, _styles):
    """The text with styles added (plain text: unchanged)."""
    return to_text(v)


@function("TextStyleRemove ( text ; styles )")
def text_style_remove(v, _styles):
    """The text with styles removed (plain text: unchanged)."""
    return to_text(v)


@function("TextFormatRemove ( text )")
def text_format_remove(v):
    """The text without any formatting (plain text: unchanged)."""
    return to_text(v)


@function("GetAsCSS ( text )")
def get_as_css(v):
    """The text as CSS-styled HTML (plain text: special characters escaped, returns as ``<br>``)."""
    import html
    return html.escape(to_text(v), quote=False).replace("\r", "<br>\r")


@function("GetAsSVG ( text )")
def get_as_svg(v):
    """The text as an SVG text element (plain text)."""
    import html
    return "<StyleList>\r</StyleList>\r<Data>\r<Span>" + html.escape(to_text(v), quote=False) + "</Span>\r</Data>"
