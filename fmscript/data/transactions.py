"""Open Transaction … Commit Transaction on one SQLite transaction, with a savepoint per record.

FileMaker (19.6 and later) holds every record change between Open Transaction and Commit Transaction and
commits them together, or none of them.  Here:

* Open Transaction commits the open record, begins the SQLite transaction and sets the savepoint
  ``fm_record``.  Committing a record inside the transaction (Commit Records, going to another record…)
  validates it and moves the savepoint on; Revert Record rolls back to it (that record's changes only).
* An Open Transaction inside an open transaction (in the same script or a sub-script) nests: its Commit
  Transaction only closes that level; the outermost Commit Transaction commits everything.
* Revert Transaction (at any level), an error of a data step while Revert Transaction on Error is on,
  or a failed validation at Commit Transaction roll back the whole transaction: every record it changed,
  created or deleted returns to what it was.  Serial numbers it used are not given back (as in FileMaker).
  The steps up to each open level's Commit Transaction are then skipped.
* A script that ends with a transaction still open reverts it.
"""
from __future__ import annotations

import sqlite3

from ..errors import E_COMMAND_UNAVAILABLE, DataError
from .sqlerrors import busy_error

RECORD_SAVEPOINT = "fm_record"


class Transactions:
    """The transaction state of a file.  A mixin of :class:`~fmscript.data.database.Database`."""

    conn: sqlite3.Connection

    def _init_transactions(self) -> None:
        self.transaction_depth = 0
        self.revert_on_error = True
        self.transaction_skip = 0         # Commit Transaction steps still to reach after a revert
        self.transaction_error: tuple[int, str] | None = None  # Revert Transaction's Error Code, kept to the end
        self.transaction_skip_validation = False
        self._txn_new: list[tuple[str, int]] = []
        self._txn_found: list[tuple[object, list[int], int]] = []  # found sets before a delete

    @property
    def transaction_open(self) -> bool:
        return self.transaction_depth > 0

    def open_transaction(self) -> None:
        """Open Transaction: nests inside an open one."""
        if self.transaction_depth:
            self.transaction_depth += 1
            return
        self.commit()
        self.begin()
        self.conn.execute(f"SAVEPOINT {RECORD_SAVEPOINT}")
        self.transaction_depth = 1
        self.transaction_skip, self.transaction_error = 0, None
        self._txn_new = []
        self._txn_found = []

    def note_created_in_transaction(self, table: str, ids: list[int]) -> None:
        """Records added inside the transaction by other means than New Record (Import Records): a revert
        takes them out of the found sets."""
        self._txn_new.extend((table, rid) for rid in ids)

    def note_deleted_in_transaction(self, table: str) -> None:
        """Before records of ``table`` are deleted inside the transaction: its found sets, to give back
        if the transaction is reverted."""
        for ctx in self.contexts.values():
            if ctx.table == table:
                self._txn_found.append((ctx, list(ctx.found), ctx.index))

    def record_committed_in_transaction(self) -> None:
        """The open record is committed into the transaction: the record savepoint moves on."""
        self._txn_new.extend(self.new_records_pending())
        self.conn.execute(f"RELEASE {RECORD_SAVEPOINT}")
        self.conn.execute(f"SAVEPOINT {RECORD_SAVEPOINT}")

    def revert_record_in_transaction(self) -> None:
        self.conn.execute(f"ROLLBACK TO {RECORD_SAVEPOINT}")

    def commit_transaction(self, skip_validation: bool = False) -> None:
        """Commit Transaction: the innermost level ends; the outermost commits to the file."""
        if not self.transaction_depth:
            raise DataError("Commit Transaction needs an open transaction (Open Transaction)",
                            code=E_COMMAND_UNAVAILABLE)
        try:
            self.commit(data_entry=not skip_validation)  # the open record, into the transaction
        except DataError:
            if self.revert_on_error:
                self.revert_transaction(skip=self.transaction_depth - 1)
            raise
        if self.transaction_depth > 1:
            self.transaction_depth -= 1
            return
        self.transaction_depth = 0
        self._txn_new, self._txn_found = [], []
        try:
            self.conn.execute(f"RELEASE {RECORD_SAVEPOINT}")
        except sqlite3.OperationalError:
            pass
        self.commit()

    def revert_transaction(self, skip: int | None = None) -> None:
        """Revert Transaction: everything since the outermost Open Transaction is rolled back; the steps up
        to each level's Commit Transaction are skipped (``skip`` levels: all of them by default)."""
        if not self.transaction_depth:
            raise DataError("Revert Transaction is only allowed between Open Transaction and Commit "
                            "Transaction", code=E_COMMAND_UNAVAILABLE)
        depth = self.transaction_depth
        gone = self._txn_new + self.new_records_pending()
        self.transaction_depth = 0
        self._txn_new = []
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.OperationalError as e:
            raise busy_error(e) from None
        for ctx, found, index in reversed(self._txn_found):
            ctx.found, ctx.index = found, index
        self._txn_found = []
        self.forget_uncommitted(gone)
        self.transaction_skip = depth if skip is None else skip

    def passed_commit_transaction(self) -> bool:
        """A Commit Transaction step reached while skipping after a revert: True when it was one of them."""
        if self.transaction_skip:
            self.transaction_skip -= 1
            return True
        return False
