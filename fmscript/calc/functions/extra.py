"""Everything else: colours (RGB), encodings (Base64, hex, URL), digests and HMACs, text ↔ container
data, FileMaker paths, and the Japanese text and date functions.

Container values are :class:`Container` objects (bytes with a file name); as text they show their file
name, as FileMaker shows a container's contents as text.
"""
from __future__ import annotations

import datetime as _dt
import unicodedata
from decimal import ROUND_DOWN, Decimal

from ..values import Container, to_number, to_text  # noqa: F401  (Container: its home is calc.values)
from . import CalcError, function
from ...errors import E_CALC_SYNTAX


def _bytes(v) -> bytes:
    """The bytes of a value: a container's data, or text encoded as UTF-8."""
    if isinstance(v, Container):
        return v.data
    return to_text(v).encode("utf-8")


def _byte(v) -> int:
    n = to_number(v)
    return 0 if n is None else min(max(int(n), 0), 255)


@function("RGB ( red ; green ; blue )")
def rgb(red, green, blue):
    """A colour number: red × 65536 + green × 256 + blue, each 0 to 255."""
    return Decimal(_byte(red) * 65536 + _byte(green) * 256 + _byte(blue))


# -- Base64 and hex ---------------------------------------------------------------------------------------

def _lines(text: str, width: int) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)] or [""]


@function("Base64Encode ( data )")
def base64_encode(v):
    """The data (text as UTF-8, or container data) in Base64, in 76-character lines each ending in CR+LF."""
    if isinstance(v, str) and v == "":
        return ""
    import base64

    text = base64.b64encode(_bytes(v)).decode("ascii")
    return "".join(line + "\r\n" for line in _lines(text, 76))


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


@function("Base64EncodeRFC ( RFCNumber ; data )")
def base64_encode_rfc(rfc, v):
    """The data in Base64, formatted as an RFC says.

    1421: 64-character lines ending in CR+LF; 2045: 76-character lines; 3548 and 4648: no line breaks;
    4880: 76-character lines, then a CRC-24 line.  Other numbers mean 4648."""
    import base64

    data = _bytes(v)
    text = base64.b64encode(data).decode("ascii")
    n = to_number(rfc)
    kind = int(n) if n is not None else 4648
    if kind == 1421:
        return "\r\n".join(_lines(text, 64))
    if kind == 2045:
        return "\r\n".join(_lines(text, 76))
    if kind == 4880:
        crc = base64.b64encode(_crc24(data).to_bytes(3, "big")).decode("ascii")
        return "\r\n".join(_lines(text, 76)) + "\r\n=" + crc
    return text


def _decode64(text: str) -> bytes:
    import base64
    import binascii

    cleaned = "".join(text.split())
    cleaned = cleaned.replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=False)
    except (binascii.Error, ValueError):
        raise CalcError("the text is not Base64", code=E_CALC_SYNTAX) from None


@function("Base64Decode ( text {; fileNameWithExtension} )")
def base64_decode(v, filename=None):
    """Decodes Base64: text (UTF-8) without a file name, container data named fileNameWithExtension with one."""
    data = _decode64(to_text(v))
    if filename is not None and to_text(filename):
        return Container(data, to_text(filename))
    return data.decode("utf-8", errors="replace")


@function("HexEncode ( data )")
def hex_encode(v):
    """The data (text as UTF-8, or container data) as uppercase hexadecimal."""
    return _bytes(v).hex().upper()


@function("HexDecode ( encodedText {; fileNameWithExtension} )")
def hex_decode(v, filename=None):
    """Decodes hexadecimal: text (UTF-8) without a file name, container data with one."""
    text = "".join(to_text(v).split())
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise CalcError("the text is not hexadecimal", code=E_CALC_SYNTAX) from None
    if filename is not None and to_text(filename):
        return Container(data, to_text(filename))
    return data.decode("utf-8", errors="replace")


# -- digests ---------------------------------------------------------------------------------------------

_ALGORITHMS = {"MD5": "md5", "MDC2": None, "SHA": None, "SHA1": "sha1", "SHA224": "sha224", "SHA256": "sha256",
               "SHA384": "sha384", "SHA512": "sha512", "SHA3-224": "sha3_224", "SHA3-256": "sha3_256",
               "SHA3-384": "sha3_384", "SHA3-512": "sha3_512"}


def _algorithm(name) -> str:
    algo = _ALGORITHMS.get(to_text(name).strip().upper())
    if algo is None:
        raise CalcError(f"unknown digest algorithm “{to_text(name)}” (MD5, SHA1, SHA224, SHA256, SHA384, SHA512)",
                        code=E_CALC_SYNTAX)
    return algo


@function("CryptDigest ( data ; algorithm )")
def crypt_digest(v, algorithm):
    """The binary digest (MD5, SHA1, SHA224, SHA256, SHA384, SHA512, SHA3-…) of the data, as container data.

    Wrap it in HexEncode or Base64EncodeRFC to read it."""
    import hashlib

    if isinstance(v, str) and v == "":
        return ""
    return Container(hashlib.new(_algorithm(algorithm), _bytes(v)).digest(), "digest.dat")


@function("CryptAuthCode ( data ; algorithm ; key )")
def crypt_auth_code(v, algorithm, key):
    """The HMAC of the data with a key (same algorithms as CryptDigest) as container data."""
    import hmac

    if isinstance(v, str) and v == "":
        return ""
    return Container(hmac.new(_bytes(key), _bytes(v), _algorithm(algorithm)).digest(), "hmac.dat")


# -- text ↔ container ------------------------------------------------------------------------------------

_LINE_ENDINGS = {1: "\r", 2: "\r\n", 3: "\n"}


@function("TextEncode ( text ; encoding ; lineEndings )")
def text_encode(v, encoding, line_endings):
    """The text as a file (container data) in a character encoding.

    lineEndings: 0 keeps them, 1 CR, 2 CR+LF, 3 LF."""
    text = to_text(v)
    le = _LINE_ENDINGS.get(int(to_number(line_endings) or 0))
    if le:
        text = text.replace("\r\n", "\r").replace("\n", "\r").replace("\r", le)
    try:
        data = text.encode(to_text(encoding) or "utf-8")
    except LookupError:
        raise CalcError(f"unknown text encoding “{to_text(encoding)}”", code=E_CALC_SYNTAX) from None
    except UnicodeEncodeError:
        data = text.encode(to_text(encoding), errors="replace")
    return Container(data, "Untitled.txt")


@function("TextDecode ( container ; encoding )")
def text_decode(v, encoding):
    """The text in a file (container data) read with a character encoding."""
    try:
        return _bytes(v).decode(to_text(encoding) or "utf-8", errors="replace")
    except LookupError:
        raise CalcError(f"unknown text encoding “{to_text(encoding)}”", code=E_CALC_SYNTAX) from None


@function("GetContainerAttribute ( sourceField ; attributeName )")
def get_container_attribute(v, name):
    """An attribute of container data: fileSize, filename, MD5, or all (one per line)."""
    import hashlib

    if not isinstance(v, Container):
        return ""
    attrs = {"filesize": Decimal(len(v.data)), "filename": v.name,
             "md5": hashlib.md5(v.data).hexdigest().upper()}
    key = to_text(name).strip().casefold()
    if key == "all":
        return "\r".join(f"{k}: {to_text(x)}" for k, x in attrs.items())
    return attrs.get(key, "")


# -- FileMaker paths ------------------------------------------------------------------------------------

for _n, _v in (("PosixPath", 1), ("WinPath", 2), ("URLPath", 3)):
    _f = (lambda val: (lambda: val))(Decimal(_v))
    _f.__doc__ = f"The {_n} path type constant for ConvertToFileMakerPath and ConvertFromFileMakerPath."
    function(_n, bare=True, category="extra")(_f)


@function("ConvertToFileMakerPath ( path ; format )")
def convert_to_filemaker_path(path, fmt):
    """A POSIX path, Windows path or file URL as a FileMaker path (``file:/…``)."""
    import urllib.parse

    p = to_text(path)
    kind = int(to_number(fmt) or 1)
    if kind == 3:
        p = urllib.parse.unquote(p.split("://", 1)[-1]) if "://" in p else p
    if kind == 2:
        p = p.replace("\\", "/")
        if p.startswith("//"):
            return "file:" + p
    if not p.startswith("/"):
        p = "/" + p
    return "file:" + p


@function("ConvertFromFileMakerPath ( fileMakerPath ; format )")
def convert_from_filemaker_path(path, fmt):
    """A FileMaker path (``file:/…``) as a POSIX path, a Windows path or a file URL."""
    import urllib.parse

    p = to_text(path)
    for prefix in ("filemac:", "filewin:", "file:", "imagemac:", "imagewin:", "image:", "movie:"):
        if p.lower().startswith(prefix):
            p = p[len(prefix):]
            break
    kind = int(to_number(fmt) or 1)
    if kind == 2:
        p = p.lstrip("/") if len(p) > 2 and p[2] == ":" else p
        return p.replace("/", "\\")
    if kind == 3:
        return "file://" + urllib.parse.quote(p)
    return p


# -- Japanese --------------------------------------------------------------------------------------------

_DAY_NAMES_J = ("日曜日", "月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日")


def _date(v):
    from .datetime_fns import to_date
    return to_date(v)


@function("DayNameJ ( date )")
def day_name_j(v):
    """The weekday's name in Japanese (日曜日 …)."""
    d = _date(v)
    return "" if d is None else _DAY_NAMES_J[d.toordinal() % 7]


@function("MonthNameJ ( date )")
def month_name_j(v):
    """The month's name in Japanese (1月 …)."""
    d = _date(v)
    return "" if d is None else f"{d.month}月"


_ERAS = ((_dt.date(2019, 5, 1), "令和", "令", "R"), (_dt.date(1989, 1, 8), "平成", "平", "H"),
         (_dt.date(1926, 12, 25), "昭和", "昭", "S"), (_dt.date(1912, 7, 30), "大正", "大", "T"),
         (_dt.date(1868, 1, 25), "明治", "明", "M"))


@function("YearName ( date ; format )")
def year_name(v, fmt):
    """The Japanese era and year: format 0 令和8, 1 (令)8, 2 R8; the first year of an era is 元."""
    d = _date(v)
    if d is None:
        return ""
    kind = int(to_number(fmt) or 0)
    for start, name, short, initial in _ERAS:
        if d >= start:
            y = d.year - start.year + 1
            if kind == 2:
                return f"{initial}{y}"
            ys = "元" if y == 1 else str(y)
            return f"({short}){ys}" if kind == 1 else f"{name}{ys}"
    return str(d.year)


def _to_hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)


def _to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)


def _halfwidth_kana_to_full(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if "\uff61" <= c <= "\uff9f":
            j = i + 1
            while j < len(text) and text[j] in "\uff9e\uff9f":
                j += 1
            out.append(unicodedata.normalize("NFKC", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


_FULL_TO_HALF_KANA: dict[str, str] = {}


def _full_to_half_table() -> dict[str, str]:
    if not _FULL_TO_HALF_KANA:
        for cp in range(0xFF61, 0xFFA0):
            half = chr(cp)
            full = unicodedata.normalize("NFKC", half)
            if len(full) == 1 and full not in _FULL_TO_HALF_KANA:
                _FULL_TO_HALF_KANA[full] = half
                for mark, suffix in (("\u3099", "\uff9e"), ("\u309a", "\uff9f")):
                    combined = unicodedata.normalize("NFC", full + mark)
                    if len(combined) == 1:
                        _FULL_TO_HALF_KANA[combined] = half + suffix
    return _FULL_TO_HALF_KANA


@function("Hiragana ( text )")
def hiragana(v):
    """Katakana (full- or half-width) converted to hiragana."""
    return _to_hiragana(_halfwidth_kana_to_full(to_text(v)))


@function("Katakana ( text )")
def katakana(v):
    """Hiragana and half-width katakana converted to full-width katakana."""
    return _to_katakana(_halfwidth_kana_to_full(to_text(v)))


@function("KanaHankaku ( text )")
def kana_hankaku(v):
    """Full-width katakana converted to half-width katakana."""
    table = _full_to_half_table()
    return "".join(table.get(c, c) for c in to_text(v))


@function("KanaZenkaku ( text )")
def kana_zenkaku(v):
    """Half-width katakana converted to full-width katakana."""
    return _halfwidth_kana_to_full(to_text(v))


@function("RomanHankaku ( text )")
def roman_hankaku(v):
    """Full-width letters, digits and symbols converted to half-width (ASCII)."""
    return "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else (" " if c == "\u3000" else c)
                   for c in to_text(v))


@function("RomanZenkaku ( text )")
def roman_zenkaku(v):
    """Half-width (ASCII) letters, digits and symbols converted to full-width."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c)
                   for c in to_text(v))


_KANJI_DIGITS = "〇一二三四五六七八九"
_DAIJI_DIGITS = "〇壱弐参四伍六七八九"


@function("KanjiNumeral ( text )")
def kanji_numeral(v):
    """The digits of the text written as kanji numerals (2026年 → 二〇二六年)."""
    return "".join(_KANJI_DIGITS[int(c)] if c.isascii() and c.isdigit() else c for c in to_text(v))


def _groups_of_three(digits: str) -> list[str]:
    head = len(digits) % 3 or 3
    return [digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)]


def _groups_of_four(digits: str) -> list[int]:
    """The groups of four of a whole number's digits, lowest first."""
    return [int(digits[max(i - 4, 0):i]) for i in range(len(digits), 0, -4)] or [0]


#: The myriad units after 万 (10^8 … 10^68), as Japanese writes them; a larger group repeats 無量大数.
_BIG_UNITS = ("億", "兆", "京", "垓", "秭", "穣", "溝", "澗", "正", "載", "極", "恒河沙", "阿僧祇", "那由他", "不可思議",
              "無量大数")


def _big_unit(units: tuple[str, ...], i: int) -> str:
    """The unit of the ``i``-th group of four digits: past 無量大数 (10^68) the groups count on in front of it
    (10^72 is 1万無量大数)."""
    top = len(units) - 1
    return units[i] if i <= top else _big_unit(units, i % top) + units[top] * (i // top)


@function("NumToJText ( number ; separator ; characterType )")
def num_to_j_text(number, separator, character_type):
    """An integer written the Japanese way (1億2345万6789, 一億二千三百四十五万…).

    separator: 0 none, 1 commas, 2 the units 万/億/兆, 3 those and 十/百/千; characterType: 0 half-width
    digits, 1 full-width digits, 2 kanji numerals, 3 old-style kanji (壱弐参)."""
    num = to_number(number)
    if num is None:
        return ""
    whole = format(abs(num).to_integral_value(rounding=ROUND_DOWN), "f")
    neg = num < 0 and whole != "0"
    sep = int(to_number(separator) or 0)
    kind = int(to_number(character_type) or 0)
    daiji = kind == 3
    big_units = ("", "萬" if daiji else "万") + _BIG_UNITS
    small_units = ("", "拾" if daiji else "十", "百", "阡" if daiji else "千")
    digits = _DAIJI_DIGITS if daiji else _KANJI_DIGITS

    def write_digits(s: str) -> str:
        if kind == 1:
            return "".join(chr(ord(c) + 0xFEE0) for c in s)
        if kind in (2, 3):
            return "".join(digits[int(c)] for c in s)
        return s

    if sep == 1:
        text = ("，" if kind == 1 else ",").join(write_digits(g) for g in _groups_of_three(whole))
    elif sep == 2:
        parts = []
        for i, g in reversed(list(enumerate(_groups_of_four(whole)))):
            if g:
                parts.append(write_digits(str(g)) + _big_unit(big_units, i))
        text = "".join(parts) or write_digits("0")
    elif sep == 3 and kind in (2, 3):
        parts = []
        for i, g in reversed(list(enumerate(_groups_of_four(whole)))):
            if not g:
                continue
            chunk = ""
            for pos in range(3, -1, -1):
                dgt = (g // 10 ** pos) % 10
                if dgt == 0:
                    continue
                if pos and dgt == 1 and not daiji:
                    chunk += small_units[pos]
                else:
                    chunk += digits[dgt] + small_units[pos]
            parts.append(chunk + _big_unit(big_units, i))
        text = "".join(parts) or digits[0]
    elif sep == 3:
        parts = []
        for i, g in reversed(list(enumerate(_groups_of_four(whole)))):
            if g:
                parts.append(write_digits(str(g)) + _big_unit(big_units, i))
        text = "".join(parts) or write_digits("0")
    else:
        text = write_digits(whole)
    return ("-" if neg else "") + text

