"""AI steps that turn language into queries and numbers into predictions: Configure Prompt Template,
Perform SQL Query by Natural Language, Perform Find by Natural Language, Configure Regression Model, and the
steps fmscript cannot run here (Configure Machine Learning Model, the image-caption steps), which say why.

The prompts, the schema a model sees and the checks on its answers live in :mod:`fmscript.ai.nlquery`; the
models in :mod:`fmscript.ai.regression`.  A model's SQL runs only through the data layer's read-only ``select``
(ExecuteSQL's path); a model's find request is checked against the layout's fields before anything is found.
"""
from __future__ import annotations

import json
import re
import sys
from decimal import Decimal, InvalidOperation

from ...limits import json_loads
from ...calc import ast as C
from ...errors import (E_AI_REQUEST_FAILED, E_COMMAND_UNAVAILABLE, E_EXECUTE_SQL, E_INVALID_PARAMETER,
                       E_JSON_INVALID, E_NO_RECORDS_MATCH, E_REQUEST_NOT_SUPPORTED, FMScriptError, StepError)
from .. import ast as S
from . import step
from .data_access import committed, data_errors, database, name_of

#: How many times a model may correct an SQL query SQLite refused (the error goes back to it).
SQL_ATTEMPTS = 3


def _json_object(text: str, what: str) -> dict:
    if not text.strip():
        return {}
    try:
        value = json_loads(text)
    except json.JSONDecodeError as e:
        raise StepError(f"{what} must be a JSON object: {e.msg}", code=E_JSON_INVALID) from None
    if not isinstance(value, dict):
        raise StepError(f"{what} must be a JSON object, not {type(value).__name__}", code=E_JSON_INVALID)
    return value


def _run_ai(fn):
    """Failures of the AI libraries as FileMaker-style step errors (never a traceback)."""
    try:
        return fn()
    except FMScriptError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise StepError(f"{e.__class__.__name__}: {e}", code=E_AI_REQUEST_FAILED) from None


def _word(opt: S.Option | None, c, default: str = "") -> str:
    """A static option value written as FileMaker's words (``Action: Get SQL``), or a quoted text."""
    if opt is None or opt.value is None:
        return default
    v = opt.value
    if isinstance(v, S.Word):
        return v.name
    if isinstance(v, S.Calc) and isinstance(v.node, C.Name):
        return v.node.name
    if isinstance(v, S.Calc) and isinstance(v.node, C.Str):
        return v.node.value
    if isinstance(v, S.Raw):
        return v.text.strip().strip('"“”')
    raise c.error(f"{opt.label or 'this option'} takes one of FileMaker's words here, not a calculation", opt.pos)


def _target(st: S.Step, c, label: str = "Response Target"):
    opt = st.get(label)
    return c.target(opt) if opt is not None and opt.value is not None else None


def _messages_fit(a, model: str, messages: list[dict]) -> None:
    """A Local model is asked nothing longer than its context (its own tokenizer counts)."""
    if a.provider_name.casefold() != "local":
        return
    from ...ai import nlquery
    tokens, limit = _run_ai(lambda: nlquery.local_prompt_tokens(model, messages))
    nlquery.check_context(tokens, limit, model)


def _ask(a, model: str, messages: list[dict], params: dict) -> str:
    _messages_fit(a, model, messages)
    return _run_ai(lambda: a.provider.chat(model, messages, params))


def _context_prompt(params: dict) -> str:
    ctx = params.pop("context_prompt", "")
    return str(ctx) if ctx else ""


# -- Configure Prompt Template ------------------------------------------------------------------------------

@step("Configure Prompt Template", labels=("Template Name", "Model Provider", "Template Type", "SQL Prompt",
                                           "Natural Language Prompt", "Find Request Prompt", "RAG Prompt"),
      calc_labels=("Template Name", "SQL Prompt", "Natural Language Prompt", "Find Request Prompt", "RAG Prompt"),
      note="Template constants: `:schema:`, `:question:`, `:context:` (the `context_prompt` parameter), and "
           "`:sql:`, `:result:` (Natural Language Prompt), `:date_format:` (Find Request Prompt). An empty prompt "
           "keeps fmscript's predefined one (docs/ai-language.md).")
def configure_prompt_template(st: S.Step, c):
    """Names a prompt template (SQL Query, Find Request or RAG Prompt) for the session's AI steps."""
    name = c.text(st.get("Template Name"))
    provider = _word(st.get("Model Provider"), c)
    kind = _word(st.get("Template Type"), c)
    if not kind:
        raise c.incomplete("Configure Prompt Template has no Template Type", E_INVALID_PARAMETER)
    if kind not in ("SQL Query", "Find Request", "RAG Prompt"):
        raise c.error("Configure Prompt Template needs Template Type: SQL Query, Find Request or RAG Prompt")
    which = {"SQL Query": ("SQL Prompt", "Natural Language Prompt"), "Find Request": ("Find Request Prompt",),
             "RAG Prompt": ("RAG Prompt",)}[kind]
    for other in ("SQL Prompt", "Natural Language Prompt", "Find Request Prompt", "RAG Prompt"):
        if other not in which and st.get(other) is not None:
            raise c.error(f"{other} belongs to another Template Type than {kind}", st.get(other).pos)
    prompts = {w: c.text(st.get(w)) for w in which}

    def run(f):
        from ...ai.nlquery import configure_template
        n = name(f)
        if not n:
            raise StepError("the template name is empty", code=E_INVALID_PARAMETER)
        configure_template(f.session, n, provider, kind, {w: p(f) for w, p in prompts.items()})
    return run


def _template(f, name, kind: str, acct):
    from ...ai.nlquery import template_for
    t = template_for(f.session, name(f), kind)
    if t.provider and t.provider.casefold() != acct.provider_name.casefold():
        sys.stderr.write(f"fmscript: warning: the prompt template “{t.name}” was made for {t.provider}; account "
                         f"“{acct.name}” uses {acct.provider_name}\n")
    return t


# -- Perform SQL Query by Natural Language ------------------------------------------------------------------

SQL_ACTIONS = ("Query", "Query for Data Only", "Get SQL", "Get First SQL Only", "Get DDL")


def _listed(c, opt) -> list:
    """The names of an option: one, or each of a list FileMaker prints in brackets (``[ Products, Orders ]``)."""
    if isinstance(opt.value, S.Raw) and opt.value.text.startswith(("[", "［")):
        names = [n.strip().strip('"“”') for n in re.split(r"[,;¶\n]", opt.value.text[1:-1])]
        return [(lambda f, n=n: n) for n in names if n]
    return [name_of(c, opt)]


@step("Perform SQL Query by Natural Language",
      labels=("Account Name", "Model", "Prompt", "Options specified", "Action", "Data Tables", "Stream",
              "Parameters", "Prompt Template Name", "Response Target"),
      calc_labels=("Account Name", "Model", "Prompt", "Parameters", "Prompt Template Name", "Response Target"),
      guard=data_errors,
      note="The model's SQL runs through ExecuteSQL's read-only path, its literals passed as parameters; a query "
           "that would write is refused with error 8310 and never run. SQLite refusing a query sends the error "
           f"back to the model, at most {SQL_ATTEMPTS} attempts. The answer is not streamed (Stream is accepted).")
def perform_sql_query_by_natural_language(st: S.Step, c):
    """Sends the question and the tables' DDL to a model, runs the SQL it answers (read only) and returns the
    answer, the data, the SQL or the DDL (Action)."""
    acct = c.text(st.get("Account Name"))
    model = c.text(st.get("Model"))
    prompt = c.text(st.get("Prompt"))
    params = c.text(st.get("Parameters"))
    template = c.text(st.get("Prompt Template Name"))
    action = _word(st.get("Action"), c, "Query")
    if action not in SQL_ACTIONS:
        raise c.error("Action must be " + ", ".join(SQL_ACTIONS), st.get("Action").pos)
    by_json = None
    if _word(st.get("Options specified"), c, "From list") == "By JSON data":
        opts = [o for o in st.after("Options specified") if o.value is not None]
        if not opts:
            raise c.incomplete("Perform SQL Query by Natural Language with Options specified: By JSON data has no "
                               "JSON", E_INVALID_PARAMETER)
        by_json = c.text(opts[0])
    tables_kind = _word(st.get("Data Tables"), c, "")
    if tables_kind and tables_kind not in ("From list", "By name", "By DDL"):
        raise c.error("Data Tables must be From list, By name or By DDL", st.get("Data Tables").pos)
    # Names as written (a bare Products or "Products"), or calculations ($tables, a field holding the DDL).
    table_values = [v for o in st.after("Data Tables") if o.value is not None for v in _listed(c, o)] \
        if tables_kind else []
    if tables_kind and not table_values:
        raise c.incomplete(f"Perform SQL Query by Natural Language with Data Tables: {tables_kind} has no tables "
                           "(or DDL)", E_INVALID_PARAMETER)
    target = _target(st, c)
    if target is None:
        raise c.incomplete("Perform SQL Query by Natural Language has no Response Target", E_INVALID_PARAMETER)

    def schema(f, db, json_tables) -> str:
        from ...ai.nlquery import table_ddl
        if json_tables is not None:
            names = json_tables
        elif tables_kind == "By DDL":
            return "\n\n".join(v(f) for v in table_values)
        elif tables_kind:
            names = [n.strip() for v in table_values for n in v(f).replace("\n", "\r").split("\r") if n.strip()]
        else:
            names = [n for n, _ in db.occurrences().values()]
        return table_ddl(db, names)

    def json_options(f):
        """Options specified: By JSON data: ``action``, ``data tables`` and ``stream`` keys (Claris's page)."""
        o = _json_object(by_json(f), "The options JSON")
        unknown = set(o) - {"action", "data tables", "stream"}
        if unknown:
            raise StepError("the options JSON has unknown keys: " + ", ".join(sorted(unknown)) + " (use action, "
                            "data tables, stream)", code=E_INVALID_PARAMETER)
        act = {a.casefold(): a for a in SQL_ACTIONS}.get(str(o.get("action", "query")).casefold())
        if act is None:
            raise StepError("the options JSON's action must be one of " + ", ".join(a.lower() for a in SQL_ACTIONS),
                            code=E_INVALID_PARAMETER)
        tables = o.get("data tables")
        if tables is not None and not (isinstance(tables, list) and all(isinstance(x, str) for x in tables)):
            raise StepError("the options JSON's data tables must be an array of table names", code=E_INVALID_PARAMETER)
        return act, tables

    def run(f):
        db = database(f)
        action_now, json_tables = json_options(f) if by_json is not None else (action, None)
        ddl = schema(f, db, json_tables)
        run_action(f, db, ddl, action_now)

    def run_action(f, db, ddl, action):
        from ...ai import nlquery
        from ...ai.accounts import account
        if action == "Get DDL":
            target(f, ddl)
            return
        a = account(f.session, acct(f))
        p = _json_object(params(f), "Parameters")
        context = _context_prompt(p)
        t = _template(f, template, "SQL Query", a)
        question = prompt(f)
        if not question.strip():
            raise StepError("Perform SQL Query by Natural Language needs a Prompt", code=E_INVALID_PARAMETER)
        messages = nlquery.sql_messages(t, ddl, question, context)
        sqls, rows, last_error = [], None, None
        for _ in range(SQL_ATTEMPTS):
            answer = _ask(a, model(f), messages, p)
            sql, values = nlquery.read_only_sql(answer)  # a write is refused here: never retried, never run
            sqls.append(nlquery.extract_sql(answer))
            if action == "Get First SQL Only":
                break
            try:
                rows = db.select(sql, values)
                break
            except FMScriptError as e:
                if e.code != E_EXECUTE_SQL:
                    raise
                last_error = e
                messages = messages + [{"role": "assistant", "content": answer},
                                       {"role": "user", "content": f"SQLite refused that query: {e.message}. "
                                                                   "Answer with a corrected query only."}]
        if action == "Get First SQL Only":
            target(f, sqls[0])
            return
        if action == "Get SQL":
            target(f, "\r".join(sqls))
            return
        if rows is None:
            raise StepError(f"the model's SQL could not be run after {SQL_ATTEMPTS} attempts: {last_error.message}",
                            code=E_EXECUTE_SQL)
        data = nlquery.rows_text(rows)
        if action == "Query for Data Only":
            target(f, data)
            return
        reply = _ask(a, model(f), nlquery.answer_messages(t, question, sqls[-1], data.replace("\r", "\n"), ddl,
                                                          context), p)
        target(f, reply)
    return run


# -- Perform Find by Natural Language -----------------------------------------------------------------------

FIND_GETS = ("Found Set", "Found Set as JSON", "Find Request as JSON")


def _data_api_json(db, ctx, ids: list[int], layout: str) -> str:
    """A found set as the FileMaker Data API answers a find (``response.dataInfo``, ``response.data``)."""
    ti = db.tables()[ctx.table.casefold()]
    data = []
    for rid in ids:
        raw = db.record_values(ti, rid)
        fields = {}
        for fi in ti.record_fields:
            v = raw.get(fi.name)
            if fi.type == "number" and v not in (None, ""):
                try:
                    d = Decimal(str(v))
                    v = int(d) if d == d.to_integral_value() else float(d)
                except InvalidOperation:
                    pass
            fields[fi.name] = "" if v is None else v
        data.append({"fieldData": fields, "portalData": {}, "recordId": str(rid), "modId": "0"})
    info = {"database": db.path() or "", "layout": layout, "table": ctx.occurrence,
            "totalRecordCount": db.total_count(ctx.table), "foundCount": len(ids), "returnedCount": len(ids)}
    return json.dumps({"response": {"dataInfo": info, "data": data}, "messages": [{"code": "0", "message": "OK"}]},
                      ensure_ascii=False, separators=(",", ":"))


@step("Perform Find by Natural Language",
      labels=("Account Name", "Model", "Prompt", "Get", "Prompt Template Name", "Parameters", "Response Target"),
      calc_labels=("Account Name", "Model", "Prompt", "Prompt Template Name", "Parameters", "Response Target"),
      guard=data_errors,
      note="The model's find request (Data API JSON) is checked against the fields of the current layout "
           "(GetFieldsOnLayout) before anything is found: a field not on the layout is error 102, and the found "
           "set is unchanged.")
def perform_find_by_natural_language(st: S.Step, c):
    """Asks a model for a find request on the current layout's fields, then finds (and sorts) with it, or
    returns the found set or the request as JSON (Get)."""
    acct = c.text(st.get("Account Name"))
    model = c.text(st.get("Model"))
    prompt = c.text(st.get("Prompt"))
    params = c.text(st.get("Parameters"))
    template = c.text(st.get("Prompt Template Name"))
    get = _word(st.get("Get"), c, "Found Set")
    if get not in FIND_GETS:
        raise c.error("Get must be " + ", ".join(FIND_GETS), st.get("Get").pos)
    target = _target(st, c)
    if get != "Found Set" and target is None:
        raise c.incomplete(f"Perform Find by Natural Language with Get: {get} has no Response Target",
                           E_INVALID_PARAMETER)

    def run(f):
        from ...ai import nlquery
        from ...ai.accounts import account
        from ...data.finds import Request
        db, ctx = committed(f)
        layout = db.window.layout or ctx.occurrence
        fields = nlquery.fields_on_layout(db, layout)
        a = account(f.session, acct(f))
        p = _json_object(params(f), "Parameters")
        context = _context_prompt(p)
        t = _template(f, template, "Find Request", a)
        question = prompt(f)
        if not question.strip():
            raise StepError("Perform Find by Natural Language needs a Prompt", code=E_INVALID_PARAMETER)
        answer = _ask(a, model(f), nlquery.find_messages(t, fields["fields"], question, context), p)
        found = nlquery.find_request(answer, fields["fields"])  # a field not on the layout stops here
        if get == "Find Request as JSON":
            target(f, json.dumps({"query": [dict(r["criteria"], **({"omit": "true"} if r["omit"] else {}))
                                            for r in found["requests"]],
                                  "sort": [{"fieldName": n, "sortOrder": "ascend" if asc else "descend"}
                                           for n, asc in found["sort"]]}, ensure_ascii=False, separators=(",", ":")))
            return
        ti = db.tables()[ctx.table.casefold()]
        requests = []
        for r in found["requests"]:
            req = Request(omit=r["omit"])
            for key, crit in r["criteria"].items():
                fi = ti.field(key.rpartition("::")[2])
                req.criteria[(None, fi.name.casefold())] = (fi.name, crit)
            requests.append(req)
        ids = db.run_requests(ctx, requests)
        spec = db.sort_spec_from_text(ctx, "; ".join(f"{n.rpartition('::')[2]} "
                                                      f"{'ascending' if asc else 'descending'}"
                                                      for n, asc in found["sort"])) if found["sort"] else None
        if get == "Found Set as JSON":
            if spec:
                saved = (ctx.found, ctx.index, ctx.sort)
                ctx.found, ctx.index = ids, 0
                db.sort(ctx, spec)
                ids = list(ctx.found)
                ctx.found, ctx.index, ctx.sort = saved
            target(f, _data_api_json(db, ctx, ids, layout))
            return
        ctx.last_requests = [r.copy() for r in requests]
        if not ids:
            ctx.found, ctx.index = [], 0
            raise StepError("no records match the model's find request", code=E_NO_RECORDS_MATCH)
        ctx.found, ctx.index, ctx.sort = ids, 0, None
        if spec:
            db.sort(ctx, spec)  # FileMaker uses no Response Target with Get: Found Set
    return run


# -- Configure Regression Model -----------------------------------------------------------------------------

REGRESSION_ACTIONS = ("Train", "Save", "Load", "Unload")


@step("Configure Regression Model",
      labels=("Action", "Model Name", "Algorithm", "Training Vectors Field", "Training Target Field",
              "Skip empty or invalid records", "Parameters", "Save Model To", "Load Model From"),
      calc_labels=("Model Name", "Training Vectors Field", "Training Target Field", "Parameters", "Save Model To",
                   "Load Model From"),
      guard=data_errors,
      note="scikit-learn's RandomForestRegressor trains the model on the current found set. A saved model is JSON "
           "text (FileMaker: container data), never a pickle: loading one runs no code.")
def configure_regression_model(st: S.Step, c):
    """Trains a random-forest regression model on a found set's vectors and targets, or saves, loads or unloads
    one; PredictFromModel uses it by name."""
    action = _word(st.get("Action"), c, "")
    if action.endswith(" Model") and action[:-6] in REGRESSION_ACTIONS:
        action = action[:-6]  # FileMaker 22 prints “Action: Train Model”
    if not action:
        raise c.incomplete("Configure Regression Model has no Action", E_INVALID_PARAMETER)
    if action not in REGRESSION_ACTIONS:
        raise c.error("Configure Regression Model's Action is Train, Save, Load or Unload")
    name = c.text(st.get("Model Name"))
    algorithm = _word(st.get("Algorithm"), c, "Random Forest")
    if algorithm != "Random Forest":
        raise c.error("Algorithm: Random Forest is the only one (as in FileMaker 22)", st.get("Algorithm").pos)
    vec_field = name_of(c, st.get("Training Vectors Field"))
    tgt_field = name_of(c, st.get("Training Target Field"))
    skip = "Skip empty or invalid records" in st.words() or c.on_off(st.get("Skip empty or invalid records"), False)
    params = c.text(st.get("Parameters"))
    save_to = _target(st, c, "Save Model To")
    load_from = c.calc(st.get("Load Model From")) if st.get("Load Model From") is not None else None
    if action == "Train" and (st.get("Training Vectors Field") is None or st.get("Training Target Field") is None):
        raise c.incomplete("Configure Regression Model with Action: Train has no Training Vectors Field or "
                           "Training Target Field", E_INVALID_PARAMETER)
    if action == "Save" and save_to is None:
        raise c.incomplete("Configure Regression Model with Action: Save has no Save Model To", E_INVALID_PARAMETER)
    if action == "Load" and load_from is None:
        raise c.incomplete("Configure Regression Model with Action: Load has no Load Model From",
                           E_INVALID_PARAMETER)

    def training_data(f):
        from ...ai.regression import vector
        db = database(f)
        vectors, targets = [], []
        for v_rec, t_rec, n in _records(f, db, vec_field(f), tgt_field(f)):
            try:
                vec = vector(v_rec)
                target = float(Decimal(str(t_rec).strip()))
            except (FMScriptError, InvalidOperation, ValueError) as e:
                if skip:
                    continue
                why = e.message if isinstance(e, FMScriptError) else "the target is not a number"
                raise StepError(f"record {n} of the found set cannot be used for training: {why} (Skip empty or "
                                "invalid records leaves such records out)", code=E_INVALID_PARAMETER) from None
            vectors.append(vec)
            targets.append(target)
        return vectors, targets

    def run(f):
        from ...ai import regression
        n = name(f)
        if not n:
            raise StepError("the model name is empty", code=E_INVALID_PARAMETER)
        table = regression.models(f.session)
        if action == "Train":
            vectors, targets = training_data(f)
            p = _json_object(params(f), "Parameters")
            table[n] = regression.train(vectors, targets, p)
            if save_to is not None:
                save_to(f, table[n].to_json())
        elif action == "Save":
            save_to(f, regression.model(f.session, n).to_json())
        elif action == "Load":
            value = load_from(f)
            table[n] = regression.load(value.decode("utf-8") if isinstance(value, bytes) else str(value))
        else:
            table.pop(n, None)
    return run


def _records(f, db, vec_name: str, tgt_name: str):
    """(vector value, target value, position) of each record of the found set of the vectors' occurrence."""
    v_occ, _, v_field = vec_name.rpartition("::")
    t_occ, _, t_field = tgt_name.rpartition("::")
    occ, ti, vfi = db.resolve_field(v_occ or None, v_field)
    _, tti, tfi = db.resolve_field(t_occ or None, t_field)
    if tti is not ti:
        raise StepError("the training vectors and targets must be fields of one table", code=E_INVALID_PARAMETER)
    ctx = db.context(occ)
    ids = ctx.found if ctx.found is not None else db.all_ids(ti.name)
    for i, rid in enumerate(list(ids), 1):
        raw = db.record_values(ti, rid)
        v, t = raw.get(vfi.name), raw.get(tfi.name)
        yield ("" if v is None else v), ("" if t is None else t), i


# -- what fmscript cannot run here --------------------------------------------------------------------------

@step("Configure Machine Learning Model", labels=("Name", "Operation", "From"), calc_labels=("Name", "From"),
      note="Core ML runs only on macOS, iOS and iPadOS (as in FileMaker Pro on Windows): error 3 everywhere, "
           "ComputeModel gives `?`. Configure Regression Model is the portable way to train and predict.")
def configure_machine_learning_model(st: S.Step, c):
    """Loads a Core ML model: needs Apple's Core ML, so fmscript says so (error 3)."""
    def run(f):
        raise StepError("Configure Machine Learning Model needs Core ML, which only macOS, iOS and iPadOS have; "
                        "fmscript does not load Core ML models (Configure Regression Model trains portable ones)",
                        code=E_COMMAND_UNAVAILABLE)
    return run


def _no_vision(step_name: str):
    def compile_caption(st: S.Step, c):
        def run(f):
            raise StepError(f"{step_name} needs a vision model; fmscript's Local engine runs text models only "
                            "(mlx-lm) and its OpenAI and Custom providers send text",
                            code=E_REQUEST_NOT_SUPPORTED)
        return run
    compile_caption.__doc__ = f"{step_name}: needs a vision model, which fmscript does not have (error 21)."
    return compile_caption


_CAPTION_NOTE = ("Not supported: fmscript's Local engine runs mlx-lm's text models only (mlx-vlm would need a vision "
                 "model's weights, which an offline home lacks), and the OpenAI and Custom providers send text; the "
                 "step gives error 21 and writes nothing (container fields hold the images, but nothing can read "
                 "them).")
step("Insert Image Caption", labels=("Account Name", "Model", "Input", "Target"), note=_CAPTION_NOTE)(
    _no_vision("Insert Image Caption"))
step("Insert Image Captions in Found Set", labels=("Account Name", "Model", "Source Field", "Target Field"),
     note=_CAPTION_NOTE)(_no_vision("Insert Image Captions in Found Set"))
