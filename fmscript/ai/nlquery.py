"""Natural-language queries: the schema a model sees (GetTableDDL, GetFieldsOnLayout), the prompts of
Perform SQL Query by Natural Language and Perform Find by Natural Language (and of Configure Prompt Template),
and the checks that keep what a model answers from changing the file.

A model's SQL is only ever run through the data layer's read-only ``select`` (ExecuteSQL's path, whose SQLite
authorizer refuses anything but reads), after :func:`read_only_sql` has refused every statement that is not one
query, and with its literals passed as SQL parameters.  A model's find request is checked field by field against
the fields the layout offers to a find before anything is found.  The data layer is handed in (``db``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ..limits import json_loads
from ..errors import (E_EXECUTE_SQL, E_FIELD_MISSING, E_INVALID_PARAMETER, E_JSON_INVALID, E_LAYOUT_MISSING,
                      E_OUT_OF_RANGE, E_DATA_MISSING, E_TABLE_MISSING, FMScriptError)

# -- the schema a model sees --------------------------------------------------------------------------------

#: FileMaker's DDL column types (Claris's GetTableDDL example) for fmscript's field types.
DDL_TYPES = {"text": "varchar(255)", "number": "int", "date": "datetime", "time": "datetime",
             "timestamp": "datetime"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_ddl(db, occurrences: list[str], ignore_error: bool = False) -> str:
    """``CREATE TABLE`` statements for table occurrences, as GetTableDDL returns them.

    A name that is no occurrence of the file is error 106, unless ``ignore_error`` leaves it out.  Global
    fields and fmscript's own columns are left out (ExecuteSQL cannot read them as columns)."""
    occs = db.occurrences()
    out, missing = [], []
    for name in occurrences:
        ti = db.table_of(name) if name.casefold() in occs else None
        if ti is None:
            missing.append(name)
            continue
        shown = db.occurrence_name(name) or name
        cols = [f"{_quoted(f.name)} {DDL_TYPES.get(f.type, 'varchar(255)')}" for f in ti.record_fields]
        out.append(f"CREATE TABLE {_quoted(shown)} (\n" + ",\n".join(cols) + "\n);")
    if missing and not ignore_error:
        raise FMScriptError("there is no table occurrence " + ", ".join(f"“{m}”" for m in missing)
                            + "; the file has " + ", ".join(n for n, _ in occs.values()), code=E_TABLE_MISSING)
    return "\n\n".join(out)


def occurrence_list(text: str) -> list[str]:
    """GetTableDDL's first parameter: a JSON array of names (a plain name is taken as one)."""
    text = text.strip()
    if not text.startswith("["):
        return [n for n in re.split(r"[\r\n]+", text) if n.strip()]
    try:
        names = json_loads(text)
    except json.JSONDecodeError as e:
        raise FMScriptError(f"the table occurrence names must be a JSON array: {e.msg}", code=E_JSON_INVALID) from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise FMScriptError("the table occurrence names must be a JSON array of text", code=E_JSON_INVALID)
    return names


def fields_on_layout(db, layout: str = "") -> dict:
    """GetFieldsOnLayout: the fields of a layout that a find can use (global fields left out), by
    ``Occurrence::Field``, with ``type`` number or string.  fmscript's layouts show every field of their
    occurrence's table and fields have no comments, so there is no ``description``."""
    lays = db.layouts()
    if not layout:
        layout = db.window.layout or (db.layout_names() or [""])[0]
    entry = lays.get(layout.casefold())
    if entry is None:
        raise FMScriptError(f"there is no layout “{layout}”", code=E_LAYOUT_MISSING)
    name, occ = entry
    ti = db.table_of(occ)
    shown = db.occurrence_name(occ) or occ
    fields = {f"{shown}::{f.name}": {"type": "number" if f.type == "number" else "string"}
              for f in (ti.record_fields if ti else [])}
    return {"layout_name": name, "fields": fields}


# -- prompt templates ---------------------------------------------------------------------------------------

SQL_PROMPT = """You write one SQLite SELECT query that answers the question, using only this schema:

:schema:

Rules: answer with the query only, no explanation. Read only: never INSERT, UPDATE, DELETE, CREATE, DROP or
ALTER. Quote table and field names with double quotes and text values with single quotes.
:context:"""

NATURAL_LANGUAGE_PROMPT = """The question was answered by running this SQL query on the database:

:sql:

It returned these rows (fields separated by commas, one row per line):

:result:

Answer the question in one or two plain sentences from these rows only."""

FIND_REQUEST_PROMPT = """You turn a question into a FileMaker find request on a layout with these fields:

:schema:

Answer with one JSON object only, in the FileMaker Data API's form:
{"query": [{"Occurrence::Field": "criterion"}], "sort": [{"fieldName": "Occurrence::Field", "sortOrder": "ascend"}]}
Each object of "query" is one request; add "omit": "true" to omit its records. Use only the fields above, and
FileMaker's find operators (==, <, >, ..., *). Dates are written :date_format:. "sort" is optional.
:context:"""

RAG_PROMPT = """Answer the question from the passages of the RAG space only.

:question:"""

DEFAULT_PROMPTS = {"SQL Query": {"SQL Prompt": SQL_PROMPT, "Natural Language Prompt": NATURAL_LANGUAGE_PROMPT},
                   "Find Request": {"Find Request Prompt": FIND_REQUEST_PROMPT},
                   "RAG Prompt": {"RAG Prompt": RAG_PROMPT}}


@dataclass
class PromptTemplate:
    """One Configure Prompt Template: its name (case-sensitive), provider, type and prompts."""

    name: str
    provider: str
    kind: str  # SQL Query, Find Request or RAG Prompt
    prompts: dict = field(default_factory=dict)

    def prompt(self, which: str) -> str:
        return self.prompts.get(which) or DEFAULT_PROMPTS[self.kind][which]


def templates(session) -> dict[str, PromptTemplate]:
    """The session's prompt templates (FileMaker keeps them for the client session)."""
    return session.extensions.setdefault("prompt_templates", {})


def configure_template(session, name: str, provider: str, kind: str, prompts: dict) -> PromptTemplate:
    if kind not in DEFAULT_PROMPTS:
        raise FMScriptError(f"Template Type must be SQL Query, Find Request or RAG Prompt, not “{kind}”",
                            code=E_INVALID_PARAMETER)
    t = PromptTemplate(name, provider, kind, {k: v for k, v in prompts.items() if v})
    templates(session)[name] = t
    return t


def template_for(session, name: str, kind: str) -> PromptTemplate:
    """The named template (``""``: FileMaker's predefined prompts) for a step that uses ``kind``."""
    if not name:
        return PromptTemplate("", "", kind)
    t = templates(session).get(name)
    if t is None:
        known = ", ".join(f"“{n}”" for n in templates(session)) or "none"
        raise FMScriptError(f"the requested prompt template “{name}” was not found (names are case-sensitive; "
                            f"configured: {known})", code=E_DATA_MISSING)
    if t.kind != kind:
        raise FMScriptError(f"the prompt template “{name}” is a {t.kind} template; this step needs a {kind} one",
                            code=E_INVALID_PARAMETER)
    return t


def fill(prompt: str, **values: str) -> str:
    """Replace the template constants (``:schema:``, ``:question:``, ``:context:``, ``:sql:``, ``:result:``,
    ``:date_format:``) in one pass, so a value that contains a constant's name is never replaced again."""
    keys = {f":{k}:": v for k, v in values.items()}
    return re.sub("|".join(re.escape(k) for k in keys), lambda m: keys[m.group(0)], prompt) if keys else prompt


def sql_messages(template: PromptTemplate, ddl: str, question: str, context: str = "") -> list[dict]:
    """The messages that ask a model for the SQL query (also what a training file for it holds)."""
    system = fill(template.prompt("SQL Prompt"), schema=ddl, question=question, context=context).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def answer_messages(template: PromptTemplate, question: str, sql: str, result: str, ddl: str = "",
                    context: str = "") -> list[dict]:
    system = fill(template.prompt("Natural Language Prompt"), sql=sql, result=result, schema=ddl,
                  question=question, context=context).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def find_messages(template: PromptTemplate, fields: dict, question: str, context: str = "",
                  date_format: str = "MM/DD/YYYY") -> list[dict]:
    schema = json.dumps(fields, ensure_ascii=False, indent=1)
    system = fill(template.prompt("Find Request Prompt"), schema=schema, question=question, context=context,
                  date_format=date_format).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


# -- what a model answers -----------------------------------------------------------------------------------

_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.S)
_WRITE_WORDS = re.compile(r"\b(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|ATTACH|DETACH|PRAGMA|VACUUM|"
                          r"REINDEX|ANALYZE|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|UPSERT)\b", re.I)


def extract_sql(answer: str) -> str:
    """The SQL statement in a model's answer: a fenced block if there is one, else the text from the first
    SQL keyword on; ``""`` when the answer holds none."""
    m = _FENCE.search(answer)
    text = m.group(1) if m else answer
    m = re.search(r"\b(SELECT|WITH|VALUES|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|ATTACH|PRAGMA)\b", text, re.I)
    return text[m.start():].strip() if m else ""


_CLAUSES = re.compile(r"\b(SELECT|FROM|WHERE|BY|HAVING|LIMIT|OFFSET|ON|JOIN|AND|OR|NOT|WHEN|THEN|ELSE|CASE|IN|"
                      r"BETWEEN|LIKE|UNION|VALUES|AS|IS)\b", re.I)


def _strip_literals(sql: str) -> tuple[str, list]:
    """``sql`` with its string and number literals replaced by ``?``, and their values in order."""
    out, params, i, n = [], [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "'":
            j, buf = i + 1, []
            while j < n:
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        buf.append("'")
                        j += 2
                        continue
                    break
                buf.append(sql[j])
                j += 1
            if j >= n:
                raise FMScriptError("the model's SQL has a text value that is not closed", code=E_EXECUTE_SQL)
            out.append("?")
            params.append("".join(buf))
            i = j + 1
        elif ch in '"`[':
            close = {"[": "]"}.get(ch, ch)
            j = sql.find(close, i + 1)
            j = n - 1 if j < 0 else j
            out.append(sql[i:j + 1])
            i = j + 1
        elif ch == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif ch.isdigit() and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] in "_.$")):
            m = re.match(r"\d+(\.\d+)?([eE][-+]?\d+)?", sql[i:])
            clause = _CLAUSES.findall(re.sub(r'"[^"]*"', '""', "".join(out)))
            if clause and clause[-1].upper() in ("BY", "LIMIT", "OFFSET"):
                # A row count, or a column position in ORDER BY / GROUP BY, stays a number (a parameter is a
                # value: ORDER BY ? sorts by a constant).
                out.append(m.group(0))
            else:
                try:
                    params.append(Decimal(m.group(0)))
                    out.append("?")
                except InvalidOperation:
                    out.append(m.group(0))
            i += m.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out), params


def read_only_sql(answer: str) -> tuple[str, list]:
    """The model's query as ``(sql with ? parameters, parameter values)``; anything but one read-only query
    is refused with ExecuteSQL's error and never run."""
    sql = extract_sql(answer)
    if not sql:
        raise FMScriptError("the model's answer holds no SQL query", code=E_EXECUTE_SQL)
    bare, params = _strip_literals(sql)
    bare = bare.strip().rstrip(";").strip()
    if ";" in bare:
        raise FMScriptError("the model answered more than one SQL statement; only one query is run, and none "
                            "was", code=E_EXECUTE_SQL)
    head = bare.lstrip("(").split(None, 1)[0].upper() if bare else ""
    write = _WRITE_WORDS.search(re.sub(r'"[^"]*"|`[^`]*`|\[[^\]]*\]', '""', bare))  # names may be words
    if head not in ("SELECT", "WITH", "VALUES") or write:
        word = write.group(1).upper() if write else head
        raise FMScriptError(f"the model's SQL would change the file ({word}): refused, not run (ExecuteSQL runs "
                            "queries only)", code=E_EXECUTE_SQL)
    return bare, params


def rows_text(rows: list[tuple], field_sep: str = ",", row_sep: str = "\r") -> str:
    """Rows as ExecuteSQL writes them (its default separators)."""
    def cell(v):
        if v is None:
            return ""
        if isinstance(v, float):
            return format(Decimal(repr(v)).normalize(), "f")
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        return str(v)
    return row_sep.join(field_sep.join(cell(v) for v in row) for row in rows)


def find_request(answer: str, fields: dict) -> dict:
    """The model's find request (Data API JSON), every field checked against the layout's ``fields``
    (GetFieldsOnLayout's): a field not on the layout is error 102, and nothing is found."""
    m = _FENCE.search(answer)
    text = m.group(1) if m else answer
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise FMScriptError("the model's answer holds no find request (a JSON object)", code=E_JSON_INVALID)
    try:
        req = json_loads(text[start:end + 1])
    except json.JSONDecodeError as e:
        raise FMScriptError(f"the model's find request is not valid JSON: {e.msg}", code=E_JSON_INVALID) from None
    query = req.get("query") if isinstance(req, dict) else None
    if isinstance(query, dict):
        query = [query]
    if not isinstance(query, list) or not query or not all(isinstance(q, dict) for q in query):
        raise FMScriptError("the model's find request has no \"query\" list of requests", code=E_JSON_INVALID)
    by_key = {k.casefold(): k for k in fields}
    by_field = {}
    for k in fields:
        by_field.setdefault(k.rpartition("::")[2].casefold(), k)

    def known(name: str) -> str:
        key = by_key.get(name.casefold()) or ("::" not in name and by_field.get(name.casefold()))
        if not key:
            raise FMScriptError(f"the model's find request names “{name}”, which is not a field on the layout "
                                "(it offers " + ", ".join(fields) + "): nothing was found", code=E_FIELD_MISSING)
        return key
    requests = []
    for q in query:
        omit = str(q.get("omit", "false")).casefold() == "true"
        crit = {known(k): str(v) for k, v in q.items() if k != "omit"}
        if crit:
            requests.append({"criteria": crit, "omit": omit})
    if not requests:
        raise FMScriptError("the model's find request has no criteria", code=E_JSON_INVALID)
    sort = []
    for s in req.get("sort") or []:
        if isinstance(s, dict) and s.get("fieldName"):
            sort.append((known(str(s["fieldName"])), str(s.get("sortOrder", "ascend")).casefold()
                         not in ("descend", "descending")))
    return {"requests": requests, "sort": sort}


# -- context length -----------------------------------------------------------------------------------------

def check_context(prompt_tokens: int, limit: int | None, model: str) -> None:
    """A prompt longer than the model's context is refused before it is sent (FileMaker: out of range)."""
    if limit and prompt_tokens >= limit:
        raise FMScriptError(f"the prompt is {prompt_tokens} tokens, more than the {limit} tokens model “{model}” "
                            "can read: send fewer tables (Data Tables) or a shorter prompt", code=E_OUT_OF_RANGE)


def local_prompt_tokens(model: str, messages: list[dict]) -> tuple[int, int | None]:
    """(prompt tokens, context length) of a Local model, counted with its own tokenizer and chat template."""
    from . import generate

    mdl, tokenizer = generate.load_model(model)
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    args = getattr(mdl, "args", None)
    limit = getattr(args, "max_position_embeddings", None)
    return len(ids), limit


def estimate_tokens(text: str) -> int:
    """GetTokenCount's estimate: a CJK character is one token, other text about four characters a token
    (OpenAI's rule of thumb; "Claris FileMaker" is 4, as in Claris's example)."""
    cjk = sum(1 for ch in text if "\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af"
              or "\uf900" <= ch <= "\ufaff" or "\uff00" <= ch <= "\uffef")
    rest = len(text) - cjk
    return cjk + (round(rest / 4) if rest else 0) + (1 if rest and round(rest / 4) == 0 else 0)
