"""A file name the system refuses is FileMaker's error 800, never an internal error (issue 17)."""
import pytest

from fmscript.errors import E_CANNOT_CREATE_FILE, FMScriptError

LONG = "a" * 300  # over NAME_MAX (255 bytes) on every common file system


@pytest.mark.parametrize("step", [f'Export Records [ With dialog: Off ; "{LONG}.csv" ]',
                                  f'Save Records as JSONL [ Table: People ; "{LONG}.jsonl" ]',
                                  f'Export Records [ With dialog: Off ; "{LONG}/x.csv" ; Create folders: On ]'])
def test_a_file_name_over_the_system_limit_is_error_800(people, step):
    assert people(f'Set Error Capture [ On ]\n{step}\nShow Custom Dialog [ Get ( LastError ) ]') == [
        str(E_CANNOT_CREATE_FILE)]
    with pytest.raises(FMScriptError) as e:
        people(step)
    assert e.value.code == E_CANNOT_CREATE_FILE and "too long" in e.value.message
