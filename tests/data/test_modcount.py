"""Get ( RecordModificationCount ): a per-record count of the commits that changed the record, kept by the
data layer (Claris: 0 for a record not modified since it was created; n fields committed together count one)."""
from __future__ import annotations

import pytest

from .conftest import Runner

COUNT = 'Show Custom Dialog [ "x" ; Get ( RecordModificationCount ) ]\n'


@pytest.fixture
def run(people_db, tmp_path):
    return Runner(people_db, base_dir=tmp_path)


def test_a_new_record_starts_at_zero_and_each_changing_commit_counts_one(run):
    out = run('Go to Layout [ "People" ]\nNew Record/Request\nSet Field [ People::Name ; "Zoe" ]\n'
              'Set Field [ People::Age ; 30 ]\n' + COUNT + 'Commit Records/Requests [ No dialog ]\n' + COUNT
              # two fields committed together: one modification
              + 'Set Field [ People::Name ; "Zoë" ]\nSet Field [ People::Age ; 31 ]\n' + COUNT
              + 'Commit Records/Requests [ No dialog ]\n' + COUNT
              # each committed separately: one each
              + 'Set Field [ People::Age ; 32 ]\nCommit Records/Requests [ No dialog ]\n'
              'Set Field [ People::Age ; 33 ]\nCommit Records/Requests [ No dialog ]\n' + COUNT
              # a commit with nothing changed, and a reverted change, count nothing
              + 'Commit Records/Requests [ No dialog ]\nSet Field [ People::Age ; 34 ]\nRevert Record/Request [ No dialog ]\n'
              + COUNT)
    assert out == ["0", "0", "0", "1", "3", "3"]


def test_the_count_is_per_record_and_kept_in_the_file(run, people_db, tmp_path):
    run('Go to Layout [ "People" ]\nGo to Record/Request/Page [ First ]\nSet Field [ People::Age ; 50 ]\n'
        'Go to Record/Request/Page [ Next ]\n'  # going to another record commits the first
        'Set Field [ People::Age ; 51 ]\nGo to Record/Request/Page [ First ]\n'
        'Set Field [ People::Age ; 52 ]\nCommit Records/Requests [ No dialog ]\n')
    again = Runner(people_db, base_dir=tmp_path)
    out = again('Go to Layout [ "People" ]\nGo to Record/Request/Page [ First ]\n' + COUNT
                + 'Go to Record/Request/Page [ Next ]\n' + COUNT + 'Go to Record/Request/Page [ Last ]\n' + COUNT)
    assert out == ["2", "1", "0"]


def test_a_reverted_transaction_takes_its_counts_back(run):
    out = run('Go to Layout [ "People" ]\nGo to Record/Request/Page [ First ]\nSet Field [ People::Age ; 60 ]\n'
              'Commit Records/Requests [ No dialog ]\nOpen Transaction\n  Set Field [ People::Age ; 61 ]\n'
              '  Commit Records/Requests [ No dialog ]\n' + COUNT + '  Revert Transaction\nCommit Transaction\n'
              + COUNT + 'Open Transaction\n  Set Field [ People::Age ; 62 ]\nCommit Transaction\n' + COUNT)
    assert out == ["2", "1", "2"]


def test_a_deleted_record_s_count_goes_with_it(run):
    # SQLite may give a new record the rowid of the last one deleted: it must start at 0 all the same.
    out = run('Go to Layout [ "People" ]\nGo to Record/Request/Page [ Last ]\nSet Field [ People::Age ; 70 ]\n'
              'Commit Records/Requests [ No dialog ]\nSet Variable [ $id ; Get ( RecordID ) ]\n' + COUNT
              + 'Delete Record/Request [ No dialog ]\nNew Record/Request\nCommit Records/Requests [ No dialog ]\n'
              'Show Custom Dialog [ "x" ; ( Get ( RecordID ) = $id ) & " " & Get ( RecordModificationCount ) ]\n')
    assert out == ["1", "1 0"]


def test_related_records_count_their_own_commits(tmp_path):
    from .relfixtures import build_sales
    run = Runner(build_sales(tmp_path / "sales.sqlite"), base_dir=tmp_path)
    out = run('Go to Layout [ "Invoices" ]\nGo to Portal Row [ Select ; First ]\nSet Field [ LineItems::Qty ; 9 ]\n'
              'Commit Records/Requests [ No dialog ]\n' + COUNT + 'Go to Layout [ "LineItems" ]\n'
              'Go to Record/Request/Page [ First ]\n' + COUNT)
    assert out == ["0", "1"]  # the invoice itself was not changed; its first line was
