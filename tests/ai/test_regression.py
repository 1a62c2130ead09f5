"""Configure Regression Model and PredictFromModel on a real SQLite file, checked against scikit-learn itself."""
from __future__ import annotations

import json
import sqlite3

import pytest
from sklearn.ensemble import RandomForestRegressor

from fmscript.errors import FMScriptError
from fmscript.interpreter import Interpreter

POINTS = [(x, y) for x in range(6) for y in range(4)]


def houses(path, extra=()):
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE Houses ("Features" TEXT, "Price" INTEGER)')
    conn.executemany("INSERT INTO Houses VALUES (?, ?)",
                     [(json.dumps([x, y]), 3 * x + y) for x, y in POINTS] + list(extra))
    conn.commit()
    conn.close()
    return path


TRAIN = ('Go to Layout [ "Houses" ]\nShow All Records\n'
         'Configure Regression Model [ Action: Train ; Model Name: "HousePrice" ; Algorithm: Random Forest ; '
         'Training Vectors Field: Houses::Features ; Training Target Field: Houses::Price{skip} ; '
         'Parameters: "{{\\"numTrees\\": 20, \\"seed\\": 7}}" ; Save Model To: $$saved ]\n')


def run(tmp_path, script, extra=()):
    fm = Interpreter(file=houses(tmp_path / "h.sqlite", extra), on_dialog=lambda t, m: None)
    fm.run_text(script)
    return fm


def test_train_predict_save_unload_load(tmp_path):
    fm = run(tmp_path, TRAIN.format(skip="") + '''
Set Variable [ $$p1 ; Value: PredictFromModel ( "HousePrice" ; "[4.2, 1]" ) ]
Set Variable [ $$attrs ; Value: GetModelAttributes ( "HousePrice" ) ]
Configure Regression Model [ Action: Unload ; Model Name: "HousePrice" ]
Set Variable [ $$gone ; Value: PredictFromModel ( "HousePrice" ; "[4.2, 1]" ) ]
Configure Regression Model [ Action: Load ; Model Name: "Again" ; Load Model From: $$saved ]
Set Variable [ $$p2 ; Value: PredictFromModel ( "Again" ; "[4.2, 1]" ) ]
Set Variable [ $$wrongdims ; Value: PredictFromModel ( "Again" ; "[4.2, 1, 0]" ) ]
''')
    g = fm.session.globals
    expected = RandomForestRegressor(n_estimators=20, random_state=7, n_jobs=1).fit(
        [[x, y] for x, y in POINTS], [3 * x + y for x, y in POINTS]).predict([[4.2, 1]])[0]
    assert float(str(g["$$p1"])) == pytest.approx(expected, rel=1e-12)
    assert float(str(g["$$p2"])) == pytest.approx(expected, rel=1e-12)  # the saved JSON predicts the same
    assert 10 <= expected <= 16  # and the forest learnt something: 3 * 4.2 + 1 = 13.6
    assert str(g["$$gone"]) == "?" and str(g["$$wrongdims"]) == "?"
    assert json.loads(str(g["$$attrs"]))["dimensions"] == 2 and json.loads(str(g["$$attrs"]))["numTrees"] == 20
    saved = json.loads(str(g["$$saved"]))
    assert saved["format"] == "fmscript-regression-1" and len(saved["trees"]) == 20


def test_an_invalid_record_stops_training_unless_skipped(tmp_path):
    bad = [("not a vector", 5), (json.dumps([1, 1]), "")]
    with pytest.raises(FMScriptError) as e:
        run(tmp_path, TRAIN.format(skip=""), bad)
    assert e.value.code == 1708 and "record 25" in e.value.message
    (tmp_path / "again").mkdir()
    fm = run(tmp_path / "again", TRAIN.format(skip=" ; Skip empty or invalid records"), bad)
    assert json.loads(str(fm.session.globals["$$saved"]))["dimensions"] == 2


def test_loading_text_that_is_no_model_is_refused(tmp_path):
    with pytest.raises(FMScriptError) as e:
        run(tmp_path, 'Set Variable [ $m ; Value: "{\\"format\\": \\"pickle\\"}" ]\n'
                      'Configure Regression Model [ Action: Load ; Model Name: "x" ; Load Model From: $m ]')
    assert e.value.code == 1708


def test_core_ml_and_image_captions_say_why(tmp_path):
    fm = run(tmp_path, '''Set Error Capture [ On ]
Configure Machine Learning Model [ Name: "v" ; Operation: Vision ; From: $x ]
Set Variable [ $$ml ; Value: Get ( LastError ) ]
Insert Image Caption [ Account Name: "a" ; Model: "m" ; Input: $x ; Target: $$cap ]
Set Variable [ $$cap_err ; Value: Get ( LastError ) ]
Set Variable [ $$cm ; Value: ComputeModel ( "v" ; "image" ; 1 ) ]
''')
    g = fm.session.globals
    assert str(g["$$ml"]) == "3" and str(g["$$cap_err"]) == "21" and str(g["$$cm"]) == "?"
    assert "$$cap" not in g
