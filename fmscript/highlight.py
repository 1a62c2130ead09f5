"""A Pygments lexer for fmscript: FileMaker script text and calculations, English and zh-Hans.

Registered as the ``fmscript`` lexer through the ``pygments.lexers`` entry point (``pyproject.toml``), so
``pygmentize -l fmscript file.fmscript`` colours a file and any Pygments-based tool (the REPL, Sphinx,
MkDocs) can use it.  Step names, option labels and bare option values come from the bilingual catalogue in
``stdlib/``, so every spelling the parser accepts is coloured the same way.

Token types:

=====================  ===================================================
``Keyword``            step names (``Set Variable``, ``设置变量``, ``If``)
``Keyword.Namespace``  ``Script "Name"`` / ``End Script`` (``脚本`` / ``结束脚本``)
``Name.Label``         option labels (``Value:``, ``值:``, bare flags)
``Name.Constant``      bare option values (``On``, ``Local``) and ``Get`` names
``Name.Function``      calculation functions (any name followed by ``(``)
``Name.Variable``      ``$local`` variables (``Name.Variable.Global``: ``$$global``)
``Name.Attribute``     fields: ``Table::Field`` and ``${ Table::Field name }``
``String``             text constants, straight or curly quotes
``Number``             numbers (``1500``, ``.05``, ``1e-4``)
``Comment``            ``#`` lines, ``//`` and ``/* */``, disabled ``//`` steps
=====================  ===================================================
"""
from __future__ import annotations

import re
from functools import lru_cache

from pygments.lexer import RegexLexer, bygroups, default, include
from pygments.token import (Comment, Keyword, Name, Number, Operator, Punctuation, String, Text,
                            Whitespace)

__all__ = ["FMScriptLexer"]


def _alternation(names) -> str:
    """One regex alternative per name, longest first, runs of spaces matching any blank run."""
    uniq = sorted({n for n in names if n}, key=lambda n: (-len(n), n))
    parts = []
    for n in uniq:
        parts.append(r"[ \t\u3000]+".join(re.escape(w) for w in n.split()))
    return "|".join(parts) if parts else r"(?!)"


@lru_cache(maxsize=1)
def _names() -> tuple[str, str, str, str]:
    from . import catalog

    steps = [n for s in catalog.steps().items for n in (s.name, *s.zh, *s.aliases) if "[" not in n]
    steps += ["# (Comment)"]
    labels = [n for s in catalog.labels().items for n in (s.name, *s.zh, *s.aliases)]
    flags = [n for s in catalog.labels().items if s.kind == "flag" for n in (s.name, *s.zh, *s.aliases)]
    constants = [n for s in catalog.constants().items for n in (s.name, *s.zh, *s.aliases)]
    return _alternation(steps), _alternation(labels), _alternation(flags), _alternation(constants)


_STEPS, _LABELS, _FLAGS, _CONSTANTS = _names()
_BLANK = r"[ \t\u3000]"
_IDENT = r"[^\W\d][\w.]*"
# A field name may hold spaces (``Contacts::Name for Labels``) but not the calculation's word operators.
_FIELD_WORD = r"(?!(?:and|or|xor|not)\b)[^\W\d][\w.]*"
_FIELD = _IDENT + r"::" + _FIELD_WORD + r"(?:[ \t]+" + _FIELD_WORD + r")*"


class FMScriptLexer(RegexLexer):
    """FileMaker script steps and calculations as fmscript reads them (``.fmscript`` files)."""

    name = "fmscript"
    aliases = ["fmscript", "filemaker", "fmcalc"]
    filenames = ["*.fmscript", "*.fmcalc"]
    mimetypes = ["text/x-fmscript"]
    url = "https://github.com/fmscript/fmscript"
    flags = re.MULTILINE | re.IGNORECASE | re.UNICODE

    tokens = {
        "root": [
            (r"[ \t\u3000]*\r?\n", Whitespace),
            (r"^([ \t\u3000]*)(#.*)$", bygroups(Whitespace, Comment.Single)),
            (r'^([ \t]*)(Script|脚本)([ \t]*)("[^"\n]*"|“[^”\n]*”|「[^」\n]*」)([ \t]*)$',
             bygroups(Whitespace, Keyword.Namespace, Whitespace, String, Whitespace)),
            (r"^([ \t]*)(End[ \t]+Script|结束脚本)([ \t]*)$", bygroups(Whitespace, Keyword.Namespace, Whitespace)),
            (r"^([ \t\u3000]*)(//.*)$", bygroups(Whitespace, Comment.Preproc)),
            (r"^([ \t\u3000]*)(" + _STEPS + r")(?=" + _BLANK + r"*(?:[\[［]|$))",
             bygroups(Whitespace, Keyword), "step"),
            include("calc"),
        ],
        # After a step name: its options in brackets, or nothing.
        "step": [
            (_BLANK + r"+", Whitespace),
            (r"[\[［]", Punctuation, ("#pop", "options", "segment")),
            default("#pop"),
        ],
        # Inside a step's [ … ]: segments separated by ';' at the top level.
        "options": [
            (r"[;；]", Punctuation, "segment"),
            (r"[\]］]", Punctuation, "#pop"),
            include("calc"),
        ],
        # The start of one option: a label, a bare flag or a bare value, then the calculation.
        "segment": [
            (r"\s+", Whitespace),
            (r"(" + _LABELS + r")(" + _BLANK + r"*)([:：])(?!:)", bygroups(Name.Label, Whitespace, Punctuation),
             ("#pop", "value")),
            (r"(" + _FLAGS + r")(?=" + _BLANK + r"*(?:[;；\]］]|$))", Name.Label, "#pop"),
            (r"(" + _CONSTANTS + r")(?=" + _BLANK + r"*(?:[;；\]］]|$))", Name.Constant, "#pop"),
            default("#pop"),
        ],
        # After a label: a bare value (``On``, ``Local``) or a calculation.
        "value": [
            (_BLANK + r"+", Whitespace),
            (r"(" + _CONSTANTS + r")(?=" + _BLANK + r"*(?:[;；\]］]|$))", Name.Constant, "#pop"),
            default("#pop"),
        ],
        "calc": [
            (r"\s+", Whitespace),
            (r"/\*", Comment.Multiline, "comment"),
            (r"//.*$", Comment.Single),
            (r'"', String.Double, "string"),
            (r"“[^”]*”", String.Double),
            (r"\$\{[^}]*\}", Name.Attribute),
            (r"\$\$[\w.]*", Name.Variable.Global),
            (r"\$[\w.]*", Name.Variable),
            (r"(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", Number),
            (r"(Get)(" + _BLANK + r"*)(\()(" + _BLANK + r"*)([^\s()]+)",
             bygroups(Name.Function, Whitespace, Punctuation, Whitespace, Name.Constant)),
            (_FIELD, Name.Attribute),
            (r"(and|or|xor|not)\b", Operator.Word),
            (r"(" + _IDENT + r")(?=" + _BLANK + r"*\()", Name.Function),
            (r"(True|False|Pi|JSONString|JSONNumber|JSONObject|JSONArray|JSONBoolean|JSONNull|JSONRaw)\b",
             Name.Constant),
            (_IDENT, Name),
            (r"¶", String.Escape),
            (r"<>|<=|>=|[-+*/^&=≠<>≤≥]", Operator),
            (r"[;；]", Punctuation),
            (r"[(（]", Punctuation, "group"),
            (r"[\[［]", Punctuation, "group"),
            (r"[)）\]］]", Punctuation),
            (r"[:：,{}]", Punctuation),
            (r".", Text),
        ],
        # Brackets inside a calculation: their ';' and ']' do not end the step's options.
        "group": [
            (r"[)）\]］]", Punctuation, "#pop"),
            (r"[;；]", Punctuation),
            include("calc"),
        ],
        "string": [
            (r'\\.', String.Escape),
            (r"¶", String.Escape),
            (r'[^"\\¶]+', String.Double),
            (r'"', String.Double, "#pop"),
        ],
        "comment": [
            (r"[^*]+", Comment.Multiline),
            (r"\*/", Comment.Multiline, "#pop"),
            (r"\*", Comment.Multiline),
        ],
    }

    def analyse_text(text):  # noqa: N805 - Pygments calls it as a static function
        """Likely fmscript when a line starts with a well-known step written with its brackets."""
        if re.search(r"^\s*(Set Variable|设置变量|Set Field|设置字段|Show Custom Dialog|Perform Script)\s*\[", text,
                     re.M):
            return 0.5
        return 0.0
