"""AI steps around embedding vectors: Insert Embedding, Insert Embedding in Found Set, Perform Semantic Find,
Configure RAG Account and Perform RAG Action.

Vectors go through the account's provider (``Provider.embed``); how they are stored, compared and ranked is
:mod:`fmscript.ai.embeddings`, RAG spaces :mod:`fmscript.ai.rag`. A text field or a variable receives a vector as
its JSON-array text, a container field as binary data.
"""
from __future__ import annotations

from ...calc import ast as C
from ...calc.values import Container, to_text
from ...errors import (E_AI_INVALID_REQUEST, E_FIELD_MISSING, E_INVALID_PARAMETER, E_NO_RECORDS_MATCH,
                       E_REQUEST_NOT_SUPPORTED, FMScriptError, StepError)
from .. import ast as S
from . import step
from .ai import json_object, json_text, run_ai
from .data_access import committed, data_errors, database


#: Insert Embedding in Found Set's Parameters: FileMaker's keys, defaults and ranges (Claris's help page).
FOUND_SET_PARAMETERS = {
    "MaxRecPerCall": (20, 1, 500),
    "MaxRetryPerWorker": (5, 1, 100),
    "MaxWaitPerRetry": (60000, 20, 3600000),
    "TruncateTokenLimit": (8185, 0, 100000),
    "TruncateEnabled": (1, 0, 1),
}


def _field_ref(opt: S.Option | None, c, usage: str) -> tuple[str | None, str]:
    """``(occurrence or None, field name)`` of an option that names a field."""
    if opt is not None and isinstance(opt.value, S.Calc) and isinstance(opt.value.node, (C.Field, C.Name)):
        node = opt.value.node
        return (node.table if isinstance(node, C.Field) else None), node.name
    if opt is not None and isinstance(opt.value, S.Missing):
        return None, opt.value.text
    if opt is None or opt.value is None:
        raise c.incomplete(usage, E_FIELD_MISSING)
    raise c.error(usage, opt.pos)


def _field_type(f, ref: tuple[str | None, str]) -> tuple[str, object, object]:
    """(occurrence, table info, field info) of a field reference, or error 102 before any work."""
    db = database(f)
    try:
        return db.resolve_field(ref[0], ref[1])
    except FMScriptError as e:
        raise StepError(e.message, code=e.code or E_FIELD_MISSING) from None


def stored_form(vec, ftype: str):
    """What a field or variable of ``ftype`` receives: container data for a container field, else JSON text."""
    from ...ai.embeddings import CONTAINER_NAME, vector_to_bytes, vector_to_text

    if ftype == "container":
        return Container(vector_to_bytes(vec), CONTAINER_NAME)
    return vector_to_text(vec)


def input_text(value, what: str = "Input") -> str:
    """The text an embedding model is given; container data other than text is not supported locally."""
    if isinstance(value, Container):
        try:
            return value.data.decode("utf-8")
        except UnicodeDecodeError:
            raise StepError(f"{what} is container data that is not text: fmscript embeds text only (image "
                            "embeddings need a vision embedding model)", code=E_AI_INVALID_REQUEST) from None
    return to_text(value)


def embed_one(f, account_name: str, model: str, text: str, params: dict | None = None):
    from ...ai.accounts import account

    a = account(f.session, account_name)
    vectors = run_ai(lambda: a.provider.embed(model, [text], params or {}))
    return vectors[0]


@step("Insert Embedding", labels=("Account Name", "Embedding Model", "Input", "Parameters", "Target"),
      calc_labels=("Account Name", "Embedding Model", "Input", "Parameters", "Target"), guard=data_errors,
      note="Text input only (container input must hold text). A container field receives the vector as "
           "little-endian float32 bytes (Claris does not document its container form; see docs/embeddings.md).")
def insert_embedding(st: S.Step, c):
    """Sends the input to an embedding model; the vector goes to the target (text, or binary in a container)."""
    acct = c.text(st.get("Account Name"))
    model = c.text(st.get("Embedding Model"))
    inp = c.calc(st.get("Input"))
    params = c.text(st.get("Parameters"))
    target_opt = st.get("Target")
    if target_opt is None or target_opt.value is None:
        raise c.incomplete("Insert Embedding has no Target", E_INVALID_PARAMETER)
    setter = c.target(target_opt)
    node = target_opt.value.node if isinstance(target_opt.value, S.Calc) else None
    field_ref = ((node.table if isinstance(node, C.Field) else None), node.name) \
        if isinstance(node, (C.Field, C.Name)) else None

    def run(f):
        ftype = _field_type(f, field_ref)[2].type if field_ref is not None else "text"
        text = input_text(inp(f))
        if not text:
            raise StepError("Insert Embedding has no Input to embed", code=E_INVALID_PARAMETER)
        vec = embed_one(f, acct(f), model(f), text, json_object(params(f), "Parameters"))
        setter(f, stored_form(vec, ftype))
    return run


def _found_set_params(text: str) -> dict:
    p = json_object(text, "Parameters")
    out = {}
    for key, (default, lo, hi) in FOUND_SET_PARAMETERS.items():
        v = p.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise StepError(f"the parameter {key} must be a number from {lo} to {hi} (default {default})",
                            code=E_INVALID_PARAMETER)
        out[key] = int(v)
    unknown = sorted(set(p) - set(FOUND_SET_PARAMETERS))
    if unknown:
        raise StepError(f"unknown parameter {unknown[0]}: Insert Embedding in Found Set takes "
                        + ", ".join(FOUND_SET_PARAMETERS), code=E_INVALID_PARAMETER)
    return out


@step("Insert Embedding in Found Set", labels=("Account Name", "Embedding Model", "Source Field", "Target Field",
                                               "Replace target contents", "Continue on error", "Show summary",
                                               "Parameters"),
      calc_labels=("Account Name", "Embedding Model", "Source Field", "Target Field", "Parameters"),
      guard=data_errors,
      note="Every vector is computed before any record is written: without Continue on error a failure leaves "
           "every record as it was. Show summary calls the dialog callback (the CLI prints it). MaxWaitPerRetry "
           "is accepted; retries are the provider's own.")
def insert_embedding_in_found_set(st: S.Step, c):
    """For every record of the found set, embeds the source field into the target field."""
    acct = c.text(st.get("Account Name"))
    model = c.text(st.get("Embedding Model"))
    source = _field_ref(st.get("Source Field"), c, "Insert Embedding in Found Set has no Source Field "
                                                   "(Source Field: Table::Field)")
    target = _field_ref(st.get("Target Field"), c, "Insert Embedding in Found Set has no Target Field "
                                                   "(Target Field: Table::Field)")
    params = c.text(st.get("Parameters"))
    words = st.words()
    replace = "Replace target contents" in words or c.on_off(st.get("Replace target contents"), False)
    keep_going = "Continue on error" in words or c.on_off(st.get("Continue on error"), False)
    summary = "Show summary" in words or c.on_off(st.get("Show summary"), False)

    def run(f):
        from ...ai.accounts import account

        p = _found_set_params(params(f))
        a = account(f.session, acct(f))
        m = model(f)
        db, ctx = committed(f)
        s_occ, _, s_fi = _field_type(f, source)
        t_occ, _, t_fi = _field_type(f, target)
        saved = ctx.index
        todo, skipped = [], 0
        try:
            for i, rid in enumerate(ctx.found):
                ctx.index = i
                text = input_text(db.read_field(f, s_occ, s_fi.name, 1), f"the Source Field of record {rid}")
                if not text:
                    skipped += 1  # an empty source: nothing is sent, the target is not changed
                    continue
                if not replace and to_text(db.read_field(f, t_occ, t_fi.name, 1)) != "":
                    skipped += 1
                    continue
                todo.append((i, rid, text))
        finally:
            ctx.index = min(saved, max(len(ctx.found) - 1, 0))
        vectors: dict[int, object] = {}
        errors = 0
        step_n = p["MaxRecPerCall"]
        call_params = {"TruncateEnabled": p["TruncateEnabled"]}
        if p["TruncateEnabled"] and p["TruncateTokenLimit"]:
            call_params["TruncateTokenLimit"] = p["TruncateTokenLimit"]
        for start in range(0, len(todo), step_n):
            batch = todo[start:start + step_n]
            try:
                got = run_ai(lambda: a.provider.embed(m, [t for _, _, t in batch], call_params))
            except FMScriptError:
                if not keep_going:
                    raise  # nothing written yet
                errors += len(batch)
                continue
            for (i, _, _), vec in zip(batch, got):
                vectors[i] = vec
        dims = {len(v) for v in vectors.values()}
        if len(dims) > 1:
            raise StepError(f"the model returned vectors of different dimensions ({sorted(dims)}): nothing was "
                            "written", code=E_AI_INVALID_REQUEST)
        try:
            for i, vec in vectors.items():
                ctx.index = i
                db.set_field(f, t_occ, t_fi.name, 1, stored_form(vec, t_fi.type))
            db.commit()
        except BaseException:
            db.revert()
            raise
        finally:
            ctx.index = min(saved, max(len(ctx.found) - 1, 0))
        if summary and f.session.on_dialog is not None:
            f.session.on_dialog("Insert Embedding in Found Set",
                                f"Updated: {len(vectors)}\nSkipped: {skipped}\nErrors: {errors}")
    return run


#: The vectors Perform Semantic Find read last, per (connection, file, table, field): checked against the
#: file's change stamp, so a find repeated on an unchanged file reads no row again (at 1M vectors, reading the
#: rows is most of the time).
_MATRICES: dict[tuple, tuple] = {}
_MATRIX_CACHE_SIZE = 2


def clear_vector_cache() -> None:
    """Forget the cached vectors (benchmarks measure a find that reads them)."""
    _MATRICES.clear()


def stored_vectors(db, table: str, field: str, what: str):
    """``(ids, matrix)`` of a table's vector field, from the cache while the file is unchanged."""
    import weakref

    from ...ai import embeddings as E
    from ...data.schema import qident

    # The stamp counts this connection's changes: an entry is only good for the connection that made it.
    key = (id(db), db.path, table.casefold(), field.casefold())
    stamp = db.change_stamp()
    hit = _MATRICES.get(key)
    if hit is not None and hit[0]() is db and hit[1] == stamp:
        return hit[2], hit[3]
    ids, matrix = E.stack(db.select(f"SELECT rowid, {qident(field)} FROM {qident(table)}"), what)
    if db.path is not None:
        _MATRICES.pop(key, None)
        _MATRICES[key] = (weakref.ref(db), stamp, ids, matrix)
        while len(_MATRICES) > _MATRIX_CACHE_SIZE:
            _MATRICES.pop(next(iter(_MATRICES)))
    return ids, matrix


def _word(opt: S.Option | None, choices: tuple[str, ...], default: str, what: str, c) -> str:
    if opt is None or opt.value is None:
        return default
    v = opt.value
    text = v.name if isinstance(v, S.Word) else v.node.name if isinstance(v, S.Calc) and isinstance(
        v.node, C.Name) else v.text.strip().strip('"“”') if isinstance(v, (S.Raw, S.Calc)) else ""
    for ch in choices:
        if text.casefold() == ch.casefold():
            return ch
    raise c.error(f"{what} is one of " + ", ".join(choices), opt.pos)


@step("Perform Semantic Find", labels=("Query by", "Account Name", "Embedding Model", "Text", "Vector",
                                       "Record set", "Target Field", "Return count", "Cosine similarity condition",
                                       "Cosine similarity value", "Parameters", "Save result"),
      calc_labels=("Account Name", "Embedding Model", "Text", "Vector", "Target Field", "Return count",
                   "Cosine similarity value", "Parameters", "Save result"),
      guard=data_errors,
      note="Query by Image is not supported (no local vision embedding model). The found set is in descending "
           "similarity; Parameters {\"sort\": false} keeps record order. Save result is "
           "[{\"recordId\": …, \"cosineSimilarity\": …}, …].")
def perform_semantic_find(st: S.Step, c):
    """Finds the records whose stored vectors are most similar to a text or a vector."""
    query_by = _word(st.get("Query by"), ("Natural language", "Vector data", "Image"), "Natural language",
                     "Query by", c)
    record_set = _word(st.get("Record set"), ("All records", "Current found set"), "Current found set",
                       "Record set", c)
    acct = c.text(st.get("Account Name"))
    model = c.text(st.get("Embedding Model"))
    text = c.text(st.get("Text"))
    vector = c.calc(st.get("Vector"))
    target = _field_ref(st.get("Target Field"), c, "Perform Semantic Find has no Target field "
                                                   "(Target field: Table::Field)")
    count_opt = st.get("Return count")
    count = c.number(count_opt) if count_opt is not None and count_opt.value is not None else None
    cond_opt = st.get("Cosine similarity condition")
    cond = c.text(cond_opt) if cond_opt is not None and cond_opt.value is not None else None
    value_opt = st.get("Cosine similarity value")
    threshold = c.number(value_opt) if value_opt is not None and value_opt.value is not None else None
    if (cond is None) != (threshold is None):
        raise c.error("Cosine similarity condition and Cosine similarity value go together", st.pos)
    params = c.text(st.get("Parameters"))
    save_opt = st.get("Save result")
    save = c.target(save_opt) if save_opt is not None and save_opt.value is not None else None

    def run(f):
        from ...ai import embeddings as E

        p = json_object(params(f), "Parameters")
        n = 10 if count is None else int(count(f))
        if n < 0:
            raise StepError("Return count must be 0 or more", code=E_INVALID_PARAMETER)
        condition = thr = None
        if cond is not None:
            condition = E.condition_of(cond(f))
            thr = float(threshold(f))
            if not -1.0 <= thr <= 1.0:
                raise StepError(f"Cosine similarity value must be from -1 to 1, not {thr:g}",
                                code=E_INVALID_PARAMETER)
        db, ctx = committed(f)
        occ, ti, fi = _field_type(f, target)
        if fi.type not in ("text", "container"):
            raise StepError(f"the Target field “{fi.name}” is a {fi.type} field: embeddings are stored in text or "
                            "container fields", code=E_INVALID_PARAMETER)
        if ti.name.casefold() != ctx.table.casefold():
            raise StepError(f"the Target field “{fi.name}” is not in the table of the current layout "
                            f"(“{ctx.table}”)", code=E_FIELD_MISSING)
        if query_by == "Image":
            raise StepError("Perform Semantic Find by Image needs a vision embedding model, which fmscript does not "
                            "have: embed a text or give Vector data", code=E_REQUEST_NOT_SUPPORTED)
        if query_by == "Vector data":
            v = vector(f)
            q = E.as_vector(v.data if isinstance(v, Container) else to_text(v), "the Vector")
        else:
            t = text(f)
            if not t:
                raise StepError("Perform Semantic Find needs a Text to find", code=E_INVALID_PARAMETER)
            import numpy as np

            q = np.asarray(embed_one(f, acct(f), model(f), t), dtype=np.float32)
        ids, matrix = stored_vectors(db, ti.name, fi.name, f"the Target field “{fi.name}”")
        if record_set == "Current found set" and ids:
            import numpy as np

            keep = np.isin(np.asarray(ids), np.asarray(ctx.found, dtype=np.int64))
            ids, matrix = [i for i, k in zip(ids, keep.tolist()) if k], matrix[keep]
        hits = E.rank(q, ids, matrix, n, condition, thr)
        if save is not None:
            save(f, json_text([{"recordId": str(rid), "cosineSimilarity": round(sim, 7)} for rid, sim in hits]))
        found = [rid for rid, _ in hits]
        if p.get("sort") is False:
            found.sort()
        ctx.found, ctx.index, ctx.sort = found, 0, None
        if not found:
            raise StepError("no records match this semantic find", code=E_NO_RECORDS_MATCH)
    return run


# -- RAG ------------------------------------------------------------------------------------------------------

@step("Configure RAG Account", labels=("RAG Account Name", "Endpoint", "API key", "Verify SSL Certificates"),
      calc_labels=("RAG Account Name", "Endpoint", "API key"),
      note="fmscript's RAG spaces are local: an empty Endpoint, or `local`, keeps them in the home's rag.sqlite. "
           "A remote AI Model Server endpoint is not supported yet (error 21).")
def configure_rag_account(st: S.Step, c):
    """Names a RAG account for this session (local spaces in the fmscript home)."""
    name = c.text(st.get("RAG Account Name"))
    endpoint = c.text(st.get("Endpoint"))
    key = c.text(st.get("API key"))

    def run(f):
        from ...ai.rag import configure_account

        n = name(f)
        if not n:
            raise StepError("the RAG account name is empty", code=E_INVALID_PARAMETER)
        configure_account(f.session, n, endpoint(f), key(f))
    return run


@step("Perform RAG Action", labels=("RAG Account Name", "Space ID", "Action", "RAG Data", "Text", "Input File",
                                    "Container Field", "Send", "Prompt", "AI Account Name", "Account Name", "Model",
                                    "Embedding Model", "Stream", "Prompt Template Name", "Response Target",
                                    "Parameters"),
      calc_labels=("RAG Account Name", "Space ID", "Text", "Input File", "Container Field", "Send", "Prompt",
                   "AI Account Name", "Account Name", "Model", "Embedding Model", "Prompt Template Name",
                   "Response Target", "Parameters"),
      guard=data_errors,
      note="Local spaces: Add Data takes text, or a text/PDF file (PDF needs pypdf); the (Async) forms run "
           "synchronously. Embedding Model (default fmscript/tiny-embed) and AI Account Name's provider make the "
           "vectors. Send Prompt retrieves the closest chunks and asks the AI account's model; Stream and Prompt "
           "Template Name are accepted and not used yet.")
def perform_rag_action(st: S.Step, c):
    """Adds data to, removes data from, or sends a prompt to a RAG space."""
    acct = c.text(st.get("RAG Account Name"))
    space = c.text(st.get("Space ID"))
    action = _word(st.get("Action"), ("Add Data", "Send Prompt", "Remove Data"), "Send Prompt", "Action", c)
    data_opt = st.get("RAG Data")
    data_kind = "From Text"
    if data_opt is not None and data_opt.value is not None:
        raw = data_opt.value.name if isinstance(data_opt.value, S.Word) else to_text(
            getattr(data_opt.value, "text", "")).strip('"“” ')
        data_kind = " ".join(raw.split())
    text = c.text(st.get("Text") or (st.after("RAG Data")[0] if data_opt is not None and st.after("RAG Data")
                                     and data_kind == "From Text" else None))
    input_file = c.text(st.get("Input File"))
    container = c.calc(st.get("Container Field"))
    prompt = c.text(st.get("Send") or st.get("Prompt"))
    ai_acct = c.text(st.get("AI Account Name") or st.get("Account Name"))
    model = c.text(st.get("Model"))
    emb_model = c.text(st.get("Embedding Model"))
    params = c.text(st.get("Parameters"))
    resp_opt = st.get("Response Target")
    response = c.target(resp_opt) if resp_opt is not None and resp_opt.value is not None else None

    def run(f):
        from ...ai import rag
        from ...ai.accounts import account

        ra = rag.account(f.session, acct(f))
        sid = space(f)
        if not sid:
            raise StepError("Perform RAG Action needs a Space ID", code=E_INVALID_PARAMETER)
        p = json_object(params(f), "Parameters")
        store = ra.store()
        ai_name = ai_acct(f)
        provider = account(f.session, ai_name).provider if ai_name else None
        emodel = emb_model(f) or rag.DEFAULT_EMBEDDING_MODEL

        def embedder(texts):
            if provider is None:
                from ...ai.local import LocalEngine
                return LocalEngine().embed(emodel, texts, {})
            return provider.embed(emodel, texts, {})

        if action == "Remove Data":
            ids = p.get("id")
            if not isinstance(ids, list) or not ids:
                raise StepError("Remove Data needs Parameters {\"id\": [document ids]}", code=E_INVALID_PARAMETER)
            result = run_ai(lambda: store.remove(sid, ids))
        elif action == "Add Data":
            if data_kind.startswith("From Text"):
                body, name = text(f), "text"
            elif data_kind.startswith("From File"):
                from ...data.paths import frame_variables, resolve_input

                path = resolve_input(input_file(f), f.session.base_dir, frame_variables(f), "RAG input file")
                body, name = rag.read_document(path), path.name
            elif data_kind.startswith("From Container"):
                v = container(f)
                if not isinstance(v, Container):
                    raise StepError("Container Field holds no container data", code=E_INVALID_PARAMETER)
                body, name = rag.read_bytes(v.data, v.name), v.name
            else:
                raise StepError(f"RAG Data is From Text, From File or From Container, not “{data_kind}”",
                                code=E_INVALID_PARAMETER)
            if not body.strip():
                raise StepError("there is no text to add to the RAG space", code=E_INVALID_PARAMETER)
            result = run_ai(lambda: store.add(sid, body, name, embedder, emodel,
                                               chunk_size=int(p.get("chunk_size", rag.CHUNK_SIZE)),
                                               overlap=int(p.get("chunk_overlap", rag.CHUNK_OVERLAP))))
        else:
            q = prompt(f)
            if not q:
                raise StepError("Send Prompt needs a prompt", code=E_INVALID_PARAMETER)
            if provider is None:
                raise StepError("Send Prompt needs an AI Account Name (Configure AI Account) to answer with",
                                code=E_INVALID_PARAMETER)
            chunks = run_ai(lambda: store.search(sid, q, embedder, int(p.pop("top_k", rag.TOP_K))))
            messages = rag.prompt_messages(q, chunks, p.pop("context_prompt", ""))
            gen_params = {k: v for k, v in p.items() if k not in ("chunk_size", "chunk_overlap")}
            answer = run_ai(lambda: provider.chat(model(f), messages, gen_params))
            result = answer
        if response is not None:
            response(f, result if isinstance(result, str) else json_text(result))
    return run
