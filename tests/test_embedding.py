"""The embedding API: what a Python program can do with fmscript.Interpreter."""
from decimal import Decimal

import pytest

from fmscript import Interpreter
from fmscript.errors import ErrorList, FMScriptError, ParseError
from fmscript.errors import StepError


def test_run_text_with_parameter_and_result():
    fm = Interpreter()
    assert fm.run_text("Exit Script [ Text Result: Get ( ScriptParameter ) * 2 ]", param=21) == "42"


def test_globals_read_and_set_from_python():
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.set_global("greeting", "hello")
    fm.set_global("$$n", 2)
    fm.run_text("Set Variable [ $$greeting ; Value: Upper ( $$greeting ) & $$n * 3 ]")
    assert fm.get_global("greeting") == "HELLO6"
    assert fm.globals == {"$$greeting": "HELLO6", "$$n": Decimal(2)}


def test_run_steps_keeps_local_variables_in_the_interpreters_frame():
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.run_steps("Set Variable [ $a ; Value: 5 ]")
    assert fm.run_steps("Exit Script [ $a + 1 ]") == Decimal(6)
    assert fm.evaluate("$a * 2") == Decimal(10)
    assert fm.variables() == {"$a": Decimal(5)}
    other = fm.new_frame()
    assert fm.evaluate("$a", frame=other) == ""


def test_dialogs_and_step_events_reach_callbacks():
    shown, events = [], []
    fm = Interpreter(on_dialog=lambda t, m: shown.append((t, m)), on_step=events.append)
    fm.run_text('Set Variable [ $x ; Value: 1 ]\nShow Custom Dialog [ "T" ; "M" & $x ]', path="e.fmscript")
    assert shown == [("T", "M1")]
    assert [(e["line"], e["step"], e["changed"]) for e in events] == [
        (1, "Set Variable", {"$x": Decimal(1)}), (2, "Show Custom Dialog", {})]


def test_trace_can_be_switched_on_for_loaded_scripts():
    seen = []
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.load_text("Set Variable [ $x ; Value: 1 ]", "t.fmscript", "T")
    fm.trace = seen.append
    fm.run_script("T")
    assert [e["step"] for e in seen] == ["Set Variable"]


def test_register_a_python_function():
    fm = Interpreter()
    fm.register_function("Double ( number )", lambda x: x * 2)
    assert fm.evaluate("Double ( 21 )") == Decimal(42)
    with pytest.raises(ParseError, match=r"Double takes 1 argument"):
        fm.evaluate("Double ( 1 ; 2 )")


def test_register_a_step_in_two_languages():
    fm = Interpreter(on_dialog=lambda t, m: None)
    log = []

    def compile_log(st, c):
        message = c.text(st.get("Message"))

        def run(f):
            if not message(f):
                raise StepError("Log Line needs a message", code=1708)
            log.append(message(f))
        return run

    fm.register_step("Log Line", compile_log, labels=("Message",), zh=("记录行",))
    fm.run_text('Log Line [ Message: "a" & 1 ]\n记录行 [ 消息: "b" ]')
    assert log == ["a1", "b"]
    assert fm.run_text('Set Error Capture [ On ]\nLog Line [ Message: "" ]\nExit Script [ Get ( LastError ) ]') == "1708"


def test_register_a_provider():
    class Echo:
        def __init__(self, account):
            self.account = account

        def chat(self, model, messages, params):
            return f"{model}: {messages[-1]['content']}"

    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.register_provider("Echo", Echo)
    result = fm.run_text('Configure AI Account [ Account Name: "e" ; Model Provider: Echo ]\n'
                         'Generate Response from Model [ Account Name: "e" ; Model: "m1" ; User Prompt: "hi" ; '
                         'Response: $r ]\nExit Script [ $r ]')
    assert result == "m1: hi"


def test_errors_carry_positions():
    fm = Interpreter()
    with pytest.raises(ErrorList) as e:
        fm.run_text("Set Variable [ $x ; Value: 1 + ]", path="bad.fmscript")
    err = e.value.errors[0]
    assert (err.span.path, err.span.line, err.span.col) == ("bad.fmscript", 1, 31)
    with pytest.raises(ParseError) as e2:
        fm.evaluate("1 +", path="calc")
    assert e2.value.span.path == "calc"


def test_database_is_none_until_used_and_close_commits(tmp_path):
    db = tmp_path / "x.sqlite"
    with Interpreter(on_dialog=lambda t, m: None) as fm:
        assert fm.database is None
        fm.open_database(db)
        assert fm.database is not None
    assert db.exists()


# -- registrations extend one interpreter only (as jinja's Environment copies DEFAULT_FILTERS) ---------------

def test_a_registered_function_stays_in_its_interpreter():
    fm, other = Interpreter(), Interpreter()
    fm.register_function("Triple ( number )", lambda x: x * 3)
    assert fm.evaluate("Triple ( 2 )") == Decimal(6)
    assert fm.run_text("Exit Script [ Evaluate ( \"Triple ( 3 )\" ) ]") == "9"  # Evaluate uses the same table
    with pytest.raises(ParseError, match="unknown function “Triple”"):
        other.evaluate("Triple ( 2 )")
    assert Interpreter().run_text('Exit Script [ IsValidExpression ( "Triple ( 1 )" ) ]') == "0"


def test_a_function_registered_under_a_builtin_name_replaces_it_in_that_interpreter_only():
    fm = Interpreter()
    fm.register_function("Upper ( text )", lambda t: "shout")
    assert fm.evaluate('Upper ( "a" )') == "shout"
    assert Interpreter().evaluate('Upper ( "a" )') == "A"


def _compile_note(st, c):
    message = c.text(st.get("Message"))

    def run(f):
        f.session.globals["$$note"] = message(f)
    return run


def test_a_registered_step_stays_in_its_interpreter():
    fm, other = Interpreter(on_dialog=lambda t, m: None), Interpreter(on_dialog=lambda t, m: None)
    fm.register_step("Take Note", _compile_note, labels={"Message": "内容"}, zh=("记笔记",))
    fm.run_text('记笔记 [ 内容: "b" & 1 ]')
    assert fm.get_global("note") == "b1"
    with pytest.raises(ErrorList, match="unknown script step “Take Note”"):
        other.run_text('Take Note [ Message: "a" ]')
    with pytest.raises(ErrorList, match="unknown script step “记笔记”"):
        other.run_text('记笔记 [ 内容: "a" ]')
    # The label's zh-Hans name is this interpreter's too: elsewhere “内容” is no option label.
    assert other.steps.label("内容") is None and fm.steps.label("内容") == "Message"


def test_a_registered_step_carries_its_description():
    fm = Interpreter()
    fm.register_step("Take Note", _compile_note, labels=[("Message", "内容")], note="Writes $$note only.")
    d = fm.steps.get("Take Note")
    assert d.implemented and d.labels == {"Message"} and d.note == "Writes $$note only."
    assert fm.steps.labels_of("Take Note") == ["Message"]
    assert fm.steps.label_zh("Message") == "内容"
    assert "Writes $$note only." in fm.steps.notes("Take Note")
    assert Interpreter().steps.get("Take Note") is None


def test_a_registered_step_is_cached_apart_from_an_interpreter_without_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FMSCRIPT_HOME", str(tmp_path))
    text = 'Take Note [ Message: "x" ]'
    fm = Interpreter()
    fm.register_step("Take Note", _compile_note, labels=("Message",))
    fm.run_text(text)  # parsed and cached with the step known
    with pytest.raises(ErrorList, match="unknown script step"):
        Interpreter().run_text(text)  # the cached parse of the other table is not reused


def test_a_registered_provider_stays_in_its_interpreter():
    class Echo:
        def __init__(self, account):
            pass

        def chat(self, model, messages, params):
            return "echo"

    script = ('Configure AI Account [ Account Name: "e" ; Model Provider: Echo ]\n'
              'Generate Response from Model [ Account Name: "e" ; Model: "m" ; User Prompt: "hi" ; Response: $r ]\n'
              'Exit Script [ $r ]')
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.register_provider("Echo", Echo)
    assert fm.run_text(script) == "echo"
    # Elsewhere “Echo” names no provider.
    with pytest.raises(FMScriptError, match="is not available; use Anthropic, Custom, Local, OpenAI\n"):
        Interpreter(on_dialog=lambda t, m: None).run_text(script)


def test_closed_interpreters_leave_nothing_behind(tmp_path):
    # A long-lived program opens and closes many interpreters: the end-of-process fallback of each file it ran
    # a script against must go with the file, or every Database (and its parsed scripts) stays alive.
    import gc
    import weakref

    from fmscript.data.database import Database

    alive = []
    for i in range(5):  # fm.database is the Database the script ran against (the test's own, not other tests')
        fm = Interpreter(file=str(tmp_path / f"f{i}.sqlite"), on_dialog=lambda t, m: None)
        fm.database.create_table("T", [("Name", "text", False)])
        fm.run_text("New Record/Request\nSet Field [ T::Name ; \"a\" ]")
        assert isinstance(fm.database, Database)
        alive.append(weakref.ref(fm.database))
        fm.close()
    gc.collect()
    assert alive and not [r for r in alive if r() is not None]


def test_an_interpreter_nobody_closed_frees_its_file_once_its_record_is_committed(tmp_path):
    # Its descriptors too: a test session or a server that drops interpreters must not run out of them.
    import gc
    import weakref

    def run_one(i):
        fm = Interpreter(file=str(tmp_path / f"g{i}.sqlite"), on_dialog=lambda t, m: None)
        fm.database.create_table("T", [("Name", "text", False)])
        fm.run_text("New Record/Request\nSet Field [ T::Name ; \"a\" ]")
        return weakref.ref(fm.database)

    alive = [run_one(i) for i in range(3)]
    gc.collect()
    assert not [r for r in alive if r() is not None]
