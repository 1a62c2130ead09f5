"""FileMaker's JSON functions.

FileMaker writes compact JSON with object keys sorted, and reports bad JSON or a bad path as a result
text starting with ``?`` (not as a calculation error).  Results of JSONSetElement and JSONParse are
:class:`JSONText`: text that remembers its parsed form, so a chain of JSONSetElement calls in a loop
does not re-parse the document each time.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal

from ..values import ONE, ZERO, format_number, to_bool, to_num0, to_text, text_to_number
from ...errors import E_NOT_ENOUGH_MEMORY
from ...limits import MAX_JSON_INDEX
from . import CalcError, function

JSON_RAW, JSON_STRING, JSON_NUMBER, JSON_OBJECT, JSON_ARRAY, JSON_BOOLEAN, JSON_NULL = range(7)


class JSONText(str):
    """Text holding JSON whose parsed value is kept beside it (FileMaker 22's parsed JSON)."""

    __slots__ = ("parsed",)

    def __new__(cls, text: str, parsed):
        s = super().__new__(cls, text)
        s.parsed = parsed
        return s


class _BadJSON(Exception):
    pass


class _BadPath(Exception):
    pass


# FileMaker's JSON functions report bad JSON as "? * Line L, Column C" and the parser's sentence on the next
# line, in the wording of JsonCpp, the parser FileMaker's JSON functions are built on.  Python's json module
# finds the same faults; these are its messages in FileMaker's words.
_JSON_MESSAGES = {
    "Expecting value": "Syntax error: value, object or array expected.",
    "Expecting property name enclosed in double quotes": "Missing '}' or object member name",
    "Expecting ':' delimiter": "Missing ':' after object member name",
    "Extra data": "Extra non-whitespace after JSON value.",
    "Invalid \\escape": "Bad escape sequence in string",
    "Invalid \\uXXXX escape": "Bad unicode escape sequence in string: hexadecimal digit expected.",
    "Unterminated string starting at": "Missing '\"' to end the string",
    "Invalid control character at": "Bad control character in string",
}


def _json_message(e: json.JSONDecodeError) -> str:
    """FileMaker's sentence for a JSON syntax error Python's parser found."""
    if e.msg == "Expecting ',' delimiter":
        return ("Missing ',' or '}' in object declaration" if _innermost_open(e.doc, e.pos) == "{"
                else "Missing ',' or ']' in array declaration")
    return _JSON_MESSAGES.get(e.msg, "Syntax error: value, object or array expected.")


def _innermost_open(doc: str, pos: int) -> str:
    """The bracket (``{`` or ``[``) whose contents the position is in, strings skipped."""
    stack, in_string, escaped = [], False, False
    for ch in doc[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _loads(text: str):
    if isinstance(text, JSONText):
        return text.parsed
    try:
        doc = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as e:
        raise _BadJSON(f"* Line {e.lineno}, Column {e.colno}\n  {_json_message(e)}") from None
    except RecursionError:
        raise _BadJSON("* Line 1, Column 1\n  Exceeded stackLimit in readValue().") from None
    return _whole_characters(doc) if _SURROGATE_ESCAPE.search(text) else doc


# "\ud800" in JSON decodes to half a character, which UTF-8 (stdout, files, SQLite) cannot write.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _whole_characters(v):
    """The document with each string's surrogate pairs joined and lone halves made U+FFFD."""
    if isinstance(v, str):
        return v.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(v, list):
        return [_whole_characters(x) for x in v]
    if isinstance(v, dict):
        return {_whole_characters(k): _whole_characters(x) for k, x in v.items()}
    return v


def _num_text(d: Decimal) -> str:
    s = format_number(d)
    if s.startswith("."):
        return "0" + s
    if s.startswith("-."):
        return "-0" + s[1:]
    return s


def dumps(v) -> str:
    """Compact JSON with sorted keys, numbers without exponent (FileMaker's output)."""
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + dumps(v[k]) for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dumps(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, Decimal):
        return _num_text(v) if v.is_finite() else "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    return json.dumps(v)


def _pretty(v, indent: int = 0) -> str:
    pad = "\t" * indent
    if isinstance(v, dict):
        if not v:
            return "{}"
        inner = ",\r".join(f"{pad}\t{json.dumps(k, ensure_ascii=False)} : " +
                           (("\r" + pad + "\t") if isinstance(v[k], (dict, list)) and v[k] else "") +
                           _pretty(v[k], indent + 1) for k in sorted(v))
        return "{\r" + inner + "\r" + pad + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        inner = ",\r".join(f"{pad}\t" + _pretty(x, indent + 1) for x in v)
        return "[\r" + inner + "\r" + pad + "]"
    return dumps(v)


_SEG = re.compile(r"""\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(\+)|(:)|(-?\d+))\s*\]|\.|([^.\[]+)""")


def _index(digits: str) -> int:
    # Python refuses to read an int of more than 4,300 digits; no array has an index that long.
    if len(digits) > 4000:
        raise _BadPath()
    return int(digits)


def parse_path(path: str) -> list:
    """``a.b[2]`` → ['a', 'b', 2]; ``['a.b']`` → ['a.b']; ``[+]`` append; ``[:]`` last element."""
    out: list = []
    i = 0
    n = len(path)
    while i < n:
        m = _SEG.match(path, i)
        if not m or m.end() == i:
            raise _BadPath(path)
        i = m.end()
        q1, q2, plus, colon, idx, name = m.groups()
        if q1 is not None or q2 is not None:
            out.append(("key", q1 if q1 is not None else q2))
        elif plus:
            out.append(("append", None))
        elif colon:
            out.append(("last", None))
        elif idx is not None:
            out.append(("index", _index(idx)))
        elif name is not None:
            out.append(("key", name))
    return out


def _step_get(node, seg):
    kind, key = seg
    if isinstance(node, list):
        if kind == "key":
            if not re.fullmatch(r"-?\d+", key):
                raise _BadPath()
            kind, key = "index", _index(key)
        if kind == "last":
            if not node:
                raise _BadPath()
            return node[-1]
        if kind != "index" or not (0 <= key < len(node)):
            raise _BadPath()
        return node[key]
    if isinstance(node, dict):
        if kind == "index":
            key = str(key)
        elif kind != "key":
            raise _BadPath()
        if key not in node:
            raise _BadPath()
        return node[key]
    raise _BadPath()


def _resolve(doc, path: str):
    node = doc
    for seg in parse_path(path):
        node = _step_get(node, seg)
    return node


def _to_json_value(value, jtype: int):
    if jtype == JSON_STRING:
        return to_text(value)
    if jtype == JSON_NUMBER:
        n = text_to_number(value) if isinstance(value, str) else to_num0(value)
        return n if n is not None else ZERO
    if jtype == JSON_BOOLEAN:
        t = to_text(value).strip().casefold()
        if t in ("true", "false"):
            return t == "true"
        return to_bool(value)
    if jtype == JSON_NULL:
        return None
    if jtype in (JSON_OBJECT, JSON_ARRAY, JSON_RAW):
        text = to_text(value)
        if jtype == JSON_OBJECT and text == "":
            return {}
        if jtype == JSON_ARRAY and text == "":
            return []
        try:
            return _loads(text)
        except _BadJSON:
            if jtype == JSON_RAW:
                # FileMaker stores raw text that is not JSON as a string.
                return text
            raise
    raise CalcError(f"unknown JSON type {jtype}")


def _set(node, segs, value):
    """Copy-on-write set: only the containers along the path are copied."""
    if not segs:
        return value
    kind, key = segs[0]
    rest = segs[1:]
    if node is None or node == "":
        node = [] if kind in ("index", "append", "last") else {}
    if isinstance(node, list):
        if kind == "key":
            if not re.fullmatch(r"-?\d+", key):
                raise _BadPath()
            kind, key = "index", _index(key)
        new = list(node)
        if kind == "append":
            new.append(_set(None, rest, value))
        elif kind == "last":
            if not new:
                new.append(_set(None, rest, value))
            else:
                new[-1] = _set(new[-1], rest, value)
        else:
            if key < 0:
                raise _BadPath()
            if key > MAX_JSON_INDEX:
                raise CalcError(f"a JSON array index may be at most {MAX_JSON_INDEX:,}", code=E_NOT_ENOUGH_MEMORY)
            if len(new) <= key:
                new.extend([None] * (key + 1 - len(new)))
            new[key] = _set(new[key], rest, value)
        return new
    if isinstance(node, dict):
        if kind == "index":
            key = str(key)
        elif kind != "key":
            raise _BadPath()
        new = dict(node)
        child = node.get(key)
        new[key] = _set(child if isinstance(child, (dict, list)) else None, rest, value)
        return new
    raise _BadPath()


def _result(v):
    """A JSON value as FileMaker returns it from JSONGetElement."""
    if isinstance(v, str):
        return v
    if isinstance(v, Decimal):
        return v
    if v is True:
        return ONE
    if v is False:
        return ZERO
    if v is None:
        return ""
    return JSONText(dumps(v), v)


def _err_json(e: _BadJSON) -> str:
    return "? " + str(e)


PATH_ERROR = "? Incorrect key, index, or path"


@function("JSONSetElement ( json ; keyOrIndexOrPath ; value ; type )", lists=True, args=(2, None))
def json_set_element(json_text, *rest):
    """Adds or changes elements; several ``[ key ; value ; type ]`` triples may follow the JSON."""
    if rest and not isinstance(rest[0], tuple):
        if len(rest) != 3:
            raise CalcError("JSONSetElement takes json ; key ; value ; type, or [ key ; value ; type ] lists")
        triples = [rest]
    else:
        triples = list(rest)
    text = to_text(json_text)
    try:
        doc = _loads(text) if text.strip() else None
        for t in triples:
            if not isinstance(t, tuple) or len(t) != 3:
                raise CalcError("each JSONSetElement list is [ key ; value ; type ]")
            key, value, jtype = t
            segs = parse_path(to_text(key))
            jv = _to_json_value(value, int(to_num0(jtype)))
            if not segs:
                doc = jv
            else:
                doc = _set(doc, segs, jv)
    except _BadJSON as e:
        return _err_json(e)
    except _BadPath:
        return PATH_ERROR
    return JSONText(dumps(doc), doc)


@function("JSONGetElement ( json ; keyOrIndexOrPath )")
def json_get_element(json_text, path):
    """The value at a key, index or path (objects and arrays as JSON text, true and false as 1 and 0).

    Empty when the last key or index does not exist; ``? Incorrect key, index, or path`` when the path
    goes through an element that does not exist."""
    try:
        node = _loads(to_text(json_text))
        segs = parse_path(to_text(path))
        for i, seg in enumerate(segs):
            try:
                node = _step_get(node, seg)
            except _BadPath:
                # A missing element is empty; a path through something missing is an error.
                if i == len(segs) - 1 and isinstance(node, (dict, list)):
                    return ""
                raise
        return _result(node)
    except _BadJSON as e:
        return _err_json(e)
    except _BadPath:
        return PATH_ERROR


@function("JSONDeleteElement ( json ; keyOrIndexOrPath )")
def json_delete_element(json_text, path):
    """The JSON without the element at a key, index or path."""
    try:
        doc = _loads(to_text(json_text))
        segs = parse_path(to_text(path))
        if not segs:
            return ""
        parent_segs, last = segs[:-1], segs[-1]
        parent = doc
        for s in parent_segs:
            parent = _step_get(parent, s)
        # Rebuild along the path without the element.
        def drop(node, segs_left):
            if not segs_left:
                kind, key = last
                if isinstance(node, list):
                    idx = len(node) - 1 if kind == "last" else int(key)
                    if not (0 <= idx < len(node)):
                        raise _BadPath()
                    return node[:idx] + node[idx + 1:]
                if isinstance(node, dict):
                    k = str(key)
                    if k not in node:
                        return node
                    return {kk: vv for kk, vv in node.items() if kk != k}
                raise _BadPath()
            kind, key = segs_left[0]
            child = _step_get(node, segs_left[0])
            new_child = drop(child, segs_left[1:])
            if isinstance(node, list):
                idx = len(node) - 1 if kind == "last" else int(key)
                copy = list(node)
                copy[idx] = new_child
                return copy
            copy = dict(node)
            copy[str(key)] = new_child
            return copy
        doc = drop(doc, parent_segs)
    except _BadJSON as e:
        return _err_json(e)
    except (_BadPath, ValueError):
        return PATH_ERROR
    return JSONText(dumps(doc), doc)


def _element(json_text, path):
    """(element, None), or (None, FileMaker's ``?`` text) for JSON that does not parse or a path that misses."""
    try:
        return _resolve(_loads(to_text(json_text)), to_text(path)), None
    except _BadJSON as e:
        return None, _err_json(e)
    except _BadPath:
        return None, PATH_ERROR


@function("JSONListKeys ( json ; keyOrIndexOrPath )")
def json_list_keys(json_text, path):
    """The keys (or array indexes) of an object or array, one per line."""
    node, error = _element(json_text, path)
    if error is not None:
        return error
    if isinstance(node, dict):
        return "\r".join(sorted(node))
    if isinstance(node, list):
        return "\r".join(str(i) for i in range(len(node)))
    return PATH_ERROR


@function("JSONListValues ( json ; keyOrIndexOrPath )")
def json_list_values(json_text, path):
    """The values of an object (in key order) or array, one per line."""
    node, error = _element(json_text, path)
    if error is not None:
        return error
    if isinstance(node, dict):
        vals = [node[k] for k in sorted(node)]
    elif isinstance(node, list):
        vals = node
    else:
        return PATH_ERROR
    return "\r".join(to_text(_result(v)) for v in vals)


def _type_of(v) -> int:
    if isinstance(v, dict):
        return JSON_OBJECT
    if isinstance(v, list):
        return JSON_ARRAY
    if isinstance(v, str):
        return JSON_STRING
    if isinstance(v, bool):
        return JSON_BOOLEAN
    if isinstance(v, Decimal):
        return JSON_NUMBER
    if v is None:
        return JSON_NULL
    return JSON_RAW


@function("JSONGetElementType ( json ; keyOrIndexOrPath )")
def json_get_element_type(json_text, path):
    """The type constant (JSONString … JSONNull) of the element at a key, index or path."""
    node, error = _element(json_text, path)
    if error is not None:
        return error
    return Decimal(_type_of(node))


@function("JSONFormatElements ( json )")
def json_format_elements(json_text):
    """Pretty-printed JSON with tabs and returns (CR), as FileMaker formats it."""
    try:
        return _pretty(_loads(to_text(json_text)))
    except _BadJSON as e:
        return _err_json(e)


@function("JSONMakeArray ( listOfValues ; separator ; type )")
def json_make_array(values, sep, jtype):
    """A JSON array from a list of values split at a separator (a return when the separator is empty)."""
    text = to_text(values)
    s = to_text(sep) or "\r"
    items = text.replace("\n", "\r").split(s) if s == "\r" else text.split(s)
    if s == "\r" and items and items[-1] == "":
        items = items[:-1]
    t = int(to_num0(jtype))
    try:
        arr = [_to_json_value(i, t) for i in items]
    except _BadJSON as e:
        return _err_json(e)
    return JSONText(dumps(arr), arr)


@function("JSONParse ( json )")
def json_parse(json_text):
    """The JSON text unchanged, parsed once so that later JSON functions on it skip parsing."""
    text = to_text(json_text)
    try:
        doc = _loads(text)
    except _BadJSON as e:
        return _err_json(e)
    return text if isinstance(text, JSONText) else JSONText(text, doc)


@function("JSONParsedState ( json )")
def json_parsed_state(json_text):
    """0 when the text was not parsed, -1 when it is not JSON, else the parsed root's type."""
    if isinstance(json_text, JSONText):
        return Decimal(_type_of(json_text.parsed))
    if isinstance(json_text, str) and json_text.startswith("? "):
        return Decimal(-1)
    return ZERO


for _name, _value in (("JSONRaw", 0), ("JSONString", 1), ("JSONNumber", 2), ("JSONObject", 3),
                      ("JSONArray", 4), ("JSONBoolean", 5), ("JSONNull", 6)):
    _const = (lambda v: (lambda: v))(Decimal(_value))
    _const.__doc__ = f"The JSON type constant {_value}, for JSONSetElement, JSONMakeArray and JSONGetElementType."
    function(_name, bare=True, category="json")(_const)
