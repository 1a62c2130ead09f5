"""AI steps: Configure AI Account, Fine-Tune Model, Generate Response from Model, Set AI Call Logging, Wait for
Fine-Tune Job.

They go through the account's provider (:mod:`fmscript.ai.accounts`); the AI libraries are imported only
when one of these steps runs.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ...limits import json_loads
from ...calc import ast as C
from ...calc.values import to_text
from ...errors import (E_AI_REQUEST_FAILED, E_INVALID_PARAMETER, E_JSON_INVALID, E_NO_RECORDS_MATCH, E_RECURSION,
                       E_SCRIPT_MISSING, FMScriptError, StepError)
from ...redact import redact
from .. import ast as S
from . import step


def json_text(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_object(text: str, what: str) -> dict:
    """A step option's JSON object (empty text: {}); anything else is error 1630 naming the place."""
    if not text.strip():
        return {}
    try:
        value = json_loads(text)
    except json.JSONDecodeError as e:
        raise StepError(f"{what} must be a JSON object: {e.msg} at line {e.lineno}, column {e.colno}",
                        code=E_JSON_INVALID) from None
    if not isinstance(value, dict):
        raise StepError(f"{what} must be a JSON object, not {type(value).__name__}", code=E_JSON_INVALID)
    return value


def run_ai(fn):
    """Turns failures of the AI libraries into FileMaker-style step errors (never a traceback)."""
    try:
        return fn()
    except FMScriptError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise StepError(f"{e.__class__.__name__}: {e}", code=E_AI_REQUEST_FAILED) from None


@step("Configure AI Account", labels=("Account Name", "Model Provider", "API key", "Endpoint",
                                      "Verify SSL Certificates"),
      calc_labels=("Account Name", "API key", "Endpoint"),
      note="Adds the `Local` provider (zh-Hans 本地): the embedded engine, no network, no key. "
           "An `https` endpoint without Verify SSL Certificates prints a warning.")
def configure_ai_account(st: S.Step, c):
    """Names an AI account for this session: provider OpenAI, Custom (with an endpoint) or Local."""
    name = c.text(st.get("Account Name"))
    prov = st.get("Model Provider")
    if prov is None or prov.value is None:
        raise c.incomplete("Configure AI Account has no Model Provider", E_INVALID_PARAMETER)
    if isinstance(prov.value, S.Calc) and isinstance(prov.value.node, C.Name):
        # FileMaker picks the provider from a list: a bare name (a provider an embedder registered) is that
        # name, not a field reference.
        prov = S.Option(prov.label, S.Word(prov.value.node.name), prov.pos, prov.label_text)
    provider = c.text(prov)
    key = c.text(st.get("API key"))
    endpoint = c.text(st.get("Endpoint"))
    verify = "Verify SSL Certificates" in st.words() or c.on_off(st.get("Verify SSL Certificates"), False)

    def run(f):
        from ...ai.accounts import configure
        acct_name = name(f)
        if not acct_name:
            raise StepError("the account name is empty", code=E_INVALID_PARAMETER)
        p = provider(f)
        ep = endpoint(f)
        if p.casefold() == "custom" and not ep:
            raise StepError("a Custom provider needs an Endpoint", code=E_INVALID_PARAMETER)
        if ep.startswith("https") and not verify:
            sys.stderr.write(f"fmscript: warning: account “{acct_name}” uses {ep} without Verify SSL "
                             "Certificates: the server's certificate is not checked\n")
        configure(f.session, acct_name, p, key(f), ep, verify)
    return run


def _field_name(opt: S.Option | None, c) -> tuple[str | None, str] | None:
    if opt is None:
        return None
    if isinstance(opt.value, S.Calc) and isinstance(opt.value.node, (C.Field, C.Name)):
        node = opt.value.node
        return (node.table if isinstance(node, C.Field) else None), node.name
    raise c.error("Completion Field needs a field: Completion Field: Table::Field", opt.pos)


@step("Fine-Tune Model", labels=("Account Name", "Base Model", "Training Data", "Completion Field",
                                 "Response Target", "Fine-Tune Parameters"),
      calc_labels=("Account Name", "Base Model", "Completion Field", "Response Target", "Fine-Tune Parameters"),
      note="Local jobs run in a worker process of the fmscript home. A tuned model of the same name stays usable "
           "until the new job succeeds, then is replaced atomically (the AI Model Server deletes it first).")
def fine_tune_model(st: S.Step, c):
    """Starts a LoRA fine-tuning job from a table's found set or a JSONL file; the job JSON goes to the target."""
    acct = c.text(st.get("Account Name"))
    base = c.text(st.get("Base Model"))
    td = st.get("Training Data")
    if td is None or td.value is None:
        raise c.incomplete("Fine-Tune Model has no Training Data", E_INVALID_PARAMETER)
    if not isinstance(td.value, S.Word) or td.value.name not in ("Table", "File"):
        raise c.error("Fine-Tune Model needs “Training Data: Table ; \"occurrence\"” or "
                      "“Training Data: File ; \"path list\"”")
    kind = td.value.name
    source_opts = st.after("Training Data")
    if not source_opts or source_opts[0].value is None:
        raise c.incomplete(f"Fine-Tune Model has no {'table occurrence' if kind == 'Table' else 'path list'} "
                           f"after Training Data: {kind}", E_INVALID_PARAMETER)
    source = c.text(source_opts[0])
    completion = _field_name(st.get("Completion Field"), c)
    if kind == "Table" and completion is None:
        raise c.incomplete("Fine-Tune Model with Training Data: Table has no Completion Field", E_INVALID_PARAMETER)
    target_opt = st.get("Response Target")
    target = c.target(target_opt) if target_opt is not None and target_opt.value is not None else None
    params = c.text(st.get("Fine-Tune Parameters"))

    def run(f):
        from ...ai.accounts import account
        a = account(f.session, acct(f))
        p = json_object(params(f), "Fine-Tune Parameters")
        if kind == "File":
            from ...data.paths import frame_variables, resolve_input
            path = resolve_input(source(f), f.session.base_dir, frame_variables(f), "training file")
            file_name = path.name
        else:
            from ...data.prompt import rows_to_jsonl, table_training_rows
            occurrence = source(f)
            rows = table_training_rows(f, occurrence, completion[1] if completion[0] is None else
                                       f"{completion[0]}::{completion[1]}")
            if not rows:
                raise StepError(f"the found set of “{occurrence}” has no records to train on",
                                code=E_NO_RECORDS_MATCH)
            file_name = f"{occurrence}.jsonl"
            path = f.session.temporary_path() / file_name
            path.write_text(rows_to_jsonl(rows), encoding="utf-8")
        warn = (lambda w: sys.stderr.write(f"fmscript: warning: {w}\n"))
        result = run_ai(lambda: a.provider.fine_tune(base(f), str(path), params=p, training_file_name=file_name,
                                                      on_warning=warn))
        job = result.get("result", result)
        if isinstance(job, dict) and job.get("id"):
            from ...ai.waiting import record_started
            record_started(f.session, a, job["id"])
        if target is not None:
            target(f, json_text(result))
    return run


def _history(text: str) -> list[dict]:
    """Messages: a JSON array of OpenAI-style messages (role, content; an assistant's tool_calls; a tool's
    tool_call_id), checked before the model is asked."""
    if not text.strip():
        return []
    try:
        items = json_loads(text)
    except json.JSONDecodeError as e:
        raise StepError(f"Messages must be a JSON array of messages: {e.msg} at line {e.lineno}, column {e.colno}",
                        code=E_JSON_INVALID) from None
    if not isinstance(items, list) or not all(isinstance(m, dict) and "role" in m for m in items):
        raise StepError("Messages must be a JSON array of {\"role\", \"content\"} objects", code=E_JSON_INVALID)
    out = []
    for i, m in enumerate(items, 1):
        role = m["role"]
        if role not in ("system", "developer", "user", "assistant", "tool"):
            raise StepError(f"message {i} of Messages has role {json.dumps(role, ensure_ascii=False)}; use user, "
                            "assistant, system or tool", code=E_JSON_INVALID)
        msg = {"role": role, "content": None if m.get("content") is None else to_text(m.get("content"))}
        if msg["content"] is None and not (role == "assistant" and m.get("tool_calls")):
            msg["content"] = ""
        for k in ("tool_calls", "tool_call_id", "name"):
            if m.get(k) is not None:
                msg[k] = m[k]
        out.append(msg)
    return out


def _lf(text):
    """FileMaker's return is CR; models (and their training files) use LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if isinstance(text, str) else text


def _tool_runner(f):
    """``call_tool(name, arguments)`` for the agentic loop: runs the script of the tool's name with the arguments
    (JSON) as its parameter, as FileMaker does; its Exit Script result goes back to the model. A missing script
    or a failing one gives the model a structured error instead (and stderr a warning)."""
    from ...ai.tools import tool_error
    from ...limits import MAX_CALL_DEPTH
    from ..run import execute
    from ..runtime import Frame

    def call_tool(name: str, args: dict) -> str:
        session = f.session
        try:
            target = session.script(name)
        except FMScriptError as e:  # its file does not load
            return tool_error("script_error", e.message, code=e.code)
        if target is None:
            return tool_error("script_missing", f"There is no script named {json.dumps(name)} to run this tool.",
                              code=E_SCRIPT_MISSING)
        if session.call_depth >= MAX_CALL_DEPTH:
            return tool_error("script_error", "Scripts call each other too deep.", code=E_RECURSION)
        sub = Frame(session, target.name, json_text(args), f.error_capture)
        session.call_depth += 1
        try:
            result = execute(target, sub)
        except FMScriptError as e:
            sys.stderr.write(f"fmscript: warning: the tool script “{name}” failed: {redact(e.message)}\n")
            return tool_error("script_error", e.message, code=e.code)
        finally:
            session.call_depth -= 1
        return to_text(result)
    return call_tool


@step("Generate Response from Model", labels=("Account Name", "Model", "User Prompt", "Agentic mode", "Response",
                                              "Instructions", "Messages", "Parameters", "Save Message History To",
                                              "Temperature", "Stream", "Tool Definitions", "Tool Calls",
                                              "Message History Count"),
      calc_labels=("Account Name", "Model", "User Prompt", "Response", "Instructions", "Messages", "Parameters",
                   "Save Message History To", "Temperature", "Tool Definitions", "Tool Calls",
                   "Message History Count"),
      note="Greedy decoding by default on the Local provider. Agentic mode is Off unless given. With it On, a tool "
           "runs the script of the same name with the arguments (JSON) as its parameter, and its result goes back "
           "to the model, for at most 10 rounds (then error 14, and nothing is written). With it Off, the first "
           "tool call ends the step: the calls go to Tool Calls from Model (OpenAI's shape) and Response is "
           "emptied. Tool calls on the Local provider use the model's chat template (Hermes/Qwen `<tool_call>` "
           "and llama-3 JSON forms are read back). Save Message History To leaves out the Instructions.")
def generate_response(st: S.Step, c):
    """Asks a base or tuned model, with tools and streaming; the reply goes to the Response target."""
    acct = c.text(st.get("Account Name"))
    model = c.text(st.get("Model"))
    prompt = c.text(st.get("User Prompt"))
    instructions = c.text(st.get("Instructions"))
    history = c.text(st.get("Messages"))
    params = c.text(st.get("Parameters"))
    tool_defs = c.text(st.get("Tool Definitions"))
    temperature = st.get("Temperature")
    temp = c.text(temperature) if temperature is not None else None
    count_opt = st.get("Message History Count")
    count = c.text(count_opt) if count_opt is not None and count_opt.value is not None else None
    agentic = c.on_off(st.get("Agentic mode"), False)
    stream = "Stream" in st.words() or c.on_off(st.get("Stream"), False)
    resp_opt = st.get("Response")
    if resp_opt is None or resp_opt.value is None:
        raise c.incomplete("Generate Response from Model has no Response target", E_INVALID_PARAMETER)
    response = c.target(resp_opt)
    save_opt = st.get("Save Message History To")
    save = c.target(save_opt) if save_opt is not None and save_opt.value is not None else None
    calls_opt = st.get("Tool Calls")
    calls_target = c.target(calls_opt) if calls_opt is not None and calls_opt.value is not None else None
    span = c.source.span(st.pos)

    def run(f):
        from ...ai.accounts import account, chat_turn
        from ...ai.tools import parse_tool_definitions, run_agent
        a = account(f.session, acct(f))
        # Everything a person can get wrong is checked before the model is asked.
        tools = parse_tool_definitions(tool_defs(f))
        messages: list[dict] = []
        sys_text = instructions(f)
        if sys_text:
            messages.append({"role": "system", "content": sys_text})
        messages += _history(history(f))
        user = prompt(f)
        if user:
            messages.append({"role": "user", "content": user})
        if not any(m["role"] == "user" for m in messages):
            raise StepError("Generate Response from Model needs a User Prompt", code=E_INVALID_PARAMETER)
        p = json_object(params(f), "Parameters")
        if temp is not None and temp(f) != "":
            try:
                p["temperature"] = float(temp(f))
            except ValueError:
                raise StepError(f"Temperature must be a number, not “{temp(f)}”", code=E_INVALID_PARAMETER) from None
        keep = None
        if count is not None and count(f).strip():
            try:
                keep = int(float(count(f)))
            except ValueError:
                keep = -1
            if keep < 0:
                raise StepError(f"Message History Count must be a whole number of 0 or more, not “{count(f)}”",
                                code=E_INVALID_PARAMETER)
        for m in messages:
            m["content"] = _lf(m["content"])
        model_name = model(f)
        provider = a.provider
        session = f.session
        streamed: list[str] = []

        def on_text(piece: str) -> None:
            streamed.append(piece)
            response(f, "".join(streamed))
            event = {"path": span.path, "line": span.line, "step": st.name, "script": f.script_name,
                     "changed": {}, "stream": piece}
            for sink in (session.trace, session.on_step):
                if sink is not None:
                    sink(event)

        def ask(convo, tool_list, text_sink):
            return chat_turn(provider, model_name, convo, p, tools=tool_list, on_text=text_sink)

        try:
            result = run_ai(lambda: run_agent(ask, messages, tools, agentic, _tool_runner(f),
                                               on_text if stream else None))
        except FMScriptError:
            if streamed:
                response(f, "")  # a streamed answer that did not end is not left half-written
            raise
        response(f, "" if result.tool_calls else result.text)
        if calls_target is not None:
            calls_target(f, json_text(result.tool_calls) if result.tool_calls else "")
        if save is not None:
            saved = [m for m in messages + result.new_messages if m["role"] != "system"]
            if keep is not None:
                saved = saved[-keep:] if keep else []
            save(f, json_text(saved))
    return run


def log_path(filename: str) -> Path:
    """Where FileMaker puts the log: the Documents folder (``Get ( DocumentsPath )``), unless the name is a path."""
    from ...calc.functions.get import documents_path
    from ...data.paths import to_native

    name = filename.strip() or "LLMDebug.log"
    native = Path(to_native(name)) if ("/" in name or ":" in name) else Path(name)
    if native.is_absolute():
        return native
    return Path(to_native(to_text(documents_path(None)))) / native


@step("Set AI Call Logging", labels=("Filename", "Verbose", "Truncate Messages"),
      calc_labels=("Filename",),
      note="Each call is one JSON line (time, call, provider, account, model, prompt, response, tokens, "
           "duration_ms, error; Verbose adds details: messages, parameters, tools, vectors). API keys are masked; "
           "the file is created owner-only.")
def set_ai_call_logging(st: S.Step, c):
    """Turns logging of AI calls on (to a file in Documents, default LLMDebug.log) or off (every log file)."""
    words = st.words()
    on = "Off" not in words
    filename = c.text(st.get("Filename"))
    verbose = "Verbose" in words or c.on_off(st.get("Verbose"), False)
    truncate = "Truncate Messages" in words or c.on_off(st.get("Truncate Messages"), False)

    def run(f):
        from ...ai.calllog import for_session
        log = for_session(f.session)
        if not on:
            log.turn_off()
            return
        log.turn_on(log_path(filename(f)), verbose=verbose, truncate=truncate)
    return run


@step("Wait for Fine-Tune Job", labels=("Account Name", "Job ID", "Timeout", "Response Target"),
      note="fmscript's own step: FileMaker has no way to wait for a job from a script.")
def wait_for_fine_tune_job(st: S.Step, c):
    """Waits until a fine-tuning job ends (or the timeout passes); the job JSON goes to the target."""
    acct = c.text(st.get("Account Name"))
    job_id = c.text(st.get("Job ID"))
    timeout = c.text(st.get("Timeout"))
    target_opt = st.get("Response Target")
    target = c.target(target_opt) if target_opt is not None and target_opt.value is not None else None

    def run(f):
        from ...ai.accounts import account
        a = account(f.session, acct(f))
        jid = job_id(f)
        if not jid:
            raise StepError("Wait for Fine-Tune Job needs a Job ID", code=E_INVALID_PARAMETER)
        t = timeout(f)
        secs = float(t) if t.strip() else None
        from ...ai.waiting import session_progress, wait_for_job
        show, hook = session_progress(f.session)
        result = run_ai(lambda: wait_for_job(a.provider, jid, timeout=secs, show=show, on_event=hook))
        if target is not None:
            target(f, json_text(result))
    return run

