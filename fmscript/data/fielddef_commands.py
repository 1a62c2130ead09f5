"""``fmscript db`` commands that define fields as FileMaker does (see :mod:`.fielddefs`):

    fmscript db calc-field    -f app.sqlite Invoices Total "Qty * Price" --type number
    fmscript db calc-field    -f app.sqlite Invoices BillTo "Customers::Name" --context "Invoices 2"
    fmscript db summary-field -f app.sqlite Invoices GrandTotal --function total --of Total
    fmscript db auto-enter    -f app.sqlite Invoices ID --serial 1001
    fmscript db auto-enter    -f app.sqlite Invoices Created --creation timestamp
    fmscript db auto-enter    -f app.sqlite Invoices CustomerName --lookup Customers::Name [--no-match lower]
    fmscript db validate      -f app.sqlite Invoices Status --not-empty --value-list Statuses
    fmscript db value-list    -f app.sqlite Statuses --values Open Paid Void
    fmscript db field-options -f app.sqlite Invoices Total
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable

from ..errors import UsageError

#: ``factory(db)`` → a session whose calculation language evaluates the file's field calculations.  The
#: command line hands it in (the data layer never imports the script language).
session_factory: Callable | None = None

_TYPES = ("text", "number", "date", "time", "timestamp")
_STAMPS = ("date", "time", "timestamp", "account")
_CONTEXT_HELP = ("evaluate the calculation from the context of this occurrence of the table: related fields are "
                 "followed from there")


def add_commands(action) -> None:
    """Add the field-definition actions with ``action(name, help, func)`` of :mod:`.commands`."""
    a = action("calc-field", "define a calculation field: TABLE FIELD CALCULATION", cmd_calc_field)
    a.add_argument("table")
    a.add_argument("field")
    a.add_argument("calculation")
    a.add_argument("--type", default="text", choices=_TYPES, help="the result's type (default text)")
    a.add_argument("--unstored", action="store_true", help="evaluate when read, never stored")
    a.add_argument("--context", metavar="OCCURRENCE", help=_CONTEXT_HELP + " (default: the one it had, else "
                   "the occurrence named like the table)")

    a = action("summary-field", "define a summary field (total, count, average, minimum, maximum, list)",
               cmd_summary_field)
    a.add_argument("table")
    a.add_argument("field")
    a.add_argument("--function", required=True, choices=("total", "count", "average", "minimum", "maximum",
                                                          "list"))
    a.add_argument("--of", required=True, metavar="FIELD", help="the field it summarises")

    a = action("auto-enter", "set a field's auto-enter option", cmd_auto_enter)
    a.add_argument("table")
    a.add_argument("field")
    g = a.add_mutually_exclusive_group(required=True)
    g.add_argument("--serial", metavar="NEXT", help="serial number, starting at NEXT")
    g.add_argument("--creation", choices=_STAMPS, help="creation date/time/timestamp/account name")
    g.add_argument("--modification", choices=_STAMPS, help="modification date/time/timestamp/account name")
    g.add_argument("--data", help="a constant value")
    g.add_argument("--calc", help="a calculated value")
    g.add_argument("--lookup", nargs="+", metavar="OCCURRENCE::FIELD",
                   help="looked-up value: copy FIELD from the first related record of OCCURRENCE (through the "
                        "relationship graph) when a match field changes; the older form MATCH "
                        "OCCURRENCE::OTHER_MATCH COPY names its own match fields instead")
    g.add_argument("--clear", action="store_true", help="remove the auto-enter option")
    a.add_argument("--increment", type=int, default=1, help="serial: the step (default 1)")
    a.add_argument("--on-commit", action="store_true", help="serial: generate on commit, not on creation")
    a.add_argument("--do-not-replace", action="store_true",
                   help="calculated value: keep an existing value when the fields it uses change")
    a.add_argument("--context", metavar="OCCURRENCE",
                   help="calculated value: " + _CONTEXT_HELP + " (default: the occurrence named like the table)")
    a.add_argument("--start", metavar="OCCURRENCE",
                   help="lookup: the occurrence of this table the lookup starts from (default: the table's own)")
    a.add_argument("--no-match", choices=("none", "lower", "higher"), default="none",
                   help="lookup, if no exact match: copy nothing (default), the next lower or next higher value")
    a.add_argument("--use", metavar="VALUE", help="lookup, if no exact match: use this value")
    a.add_argument("--copy-empty", action="store_true",
                   help="lookup: copy an empty value too (default: don't copy contents if empty)")

    a = action("validate", "set a field's validation options", cmd_validate)
    a.add_argument("table")
    a.add_argument("field")
    a.add_argument("--not-empty", action="store_true")
    a.add_argument("--unique", action="store_true")
    a.add_argument("--value-list", metavar="NAME", help="member of this value list")
    a.add_argument("--range", nargs=2, metavar=("FROM", "TO"))
    a.add_argument("--calc", help="a calculation that must be true")
    a.add_argument("--message", help="the message shown when validation fails")
    a.add_argument("--context", metavar="OCCURRENCE", help="--calc: " + _CONTEXT_HELP)
    a.add_argument("--only-during-data-entry", action="store_true",
                   help="validate only at Commit Records / Commit Transaction (default: always)")
    a.add_argument("--clear", action="store_true", help="remove the validation options")

    a = action("value-list", "define a value list from custom values or a field", cmd_value_list)
    a.add_argument("name")
    g = a.add_mutually_exclusive_group(required=True)
    g.add_argument("--values", nargs="+", metavar="VALUE")
    g.add_argument("--field", metavar="TABLE::FIELD")

    a = action("field-options", "show a field's options as JSON, or set them with --json", cmd_field_options)
    a.add_argument("table")
    a.add_argument("field")
    a.add_argument("--json", help="the options (see docs/data.md); - reads stdin")


def _open(args):
    from .commands import open_for

    db = open_for(args, must_exist=True)
    if session_factory is not None:
        db.attach(session_factory(db))
    return db


def _current(db, table: str, field: str):
    from .fielddefs import FieldOptions

    ti = db.tables().get(table.casefold())
    if ti is None:
        raise UsageError(f"there is no table named “{table}”")
    fi = ti.field(field)
    return (db.field_options(ti.name, fi.name) if fi else None) or FieldOptions()


def _done(db) -> int:
    db.close()
    return 0


def cmd_calc_field(args) -> int:
    db = _open(args)
    opts = _current(db, args.table, args.field)
    opts.kind, opts.calc, opts.stored = "calculation", args.calculation, not args.unstored
    if args.context is not None:
        opts.context = args.context
    db.define_field(args.table, args.field, opts, ftype=args.type)
    return _done(db)


def cmd_summary_field(args) -> int:
    db = _open(args)
    opts = _current(db, args.table, args.field)
    opts.kind, opts.summary = "summary", {"function": args.function, "of": args.of}
    db.define_field(args.table, args.field, opts, ftype="text" if args.function == "list" else "number")
    return _done(db)


def cmd_auto_enter(args) -> int:
    db = _open(args)
    opts = _current(db, args.table, args.field)
    if args.clear:
        opts.auto = {}
    elif args.serial is not None:
        opts.auto = {"serial": {"next": args.serial, "increment": args.increment,
                                "generate": "commit" if args.on_commit else "creation"}}
    elif args.creation:
        opts.auto = {"creation": args.creation}
    elif args.modification:
        opts.auto = {"modification": args.modification}
    elif args.data is not None:
        opts.auto = {"data": args.data}
    elif args.calc is not None:
        opts.auto = {"calc": args.calc, "replace": not args.do_not_replace}
        if args.context is not None:
            opts.auto["context"] = args.context
    elif len(args.lookup) == 1:
        occ, sep, copy = args.lookup[0].rpartition("::")
        if not sep:
            raise UsageError("--lookup takes OCCURRENCE::FIELD, the field to copy from the related occurrence")
        lk = {"occurrence": occ, "copy": copy, "no_match": "constant" if args.use is not None else args.no_match,
              "skip_empty": not args.copy_empty}
        if args.start:
            lk["start"] = args.start
        if args.use is not None:
            lk["constant"] = args.use
        opts.auto = {"lookup": lk}
    elif len(args.lookup) == 3:
        match, other, copy = args.lookup
        occ, sep, other_match = other.rpartition("::")
        if not sep:
            raise UsageError("the lookup's second value is OCCURRENCE::MATCH_FIELD")
        opts.auto = {"lookup": {"match": match, "occurrence": occ, "other_match": other_match, "copy": copy}}
    else:
        raise UsageError("--lookup takes OCCURRENCE::FIELD (or the older MATCH OCCURRENCE::OTHER_MATCH COPY)")
    if args.context is not None and args.calc is None:
        raise UsageError("--context goes with --calc: only a calculation is evaluated from a context")
    stamp = args.creation or args.modification
    ti = db.tables()[args.table.casefold()]
    new_type = stamp if ti.field(args.field) is None and stamp in ("date", "time", "timestamp") else None
    db.define_field(args.table, args.field, opts, ftype=new_type)  # a new field takes the stamp's type
    return _done(db)


def cmd_validate(args) -> int:
    db = _open(args)
    opts = _current(db, args.table, args.field)
    if args.clear:
        opts.validate = {}
    else:
        v: dict = {"when": "entry" if args.only_during_data_entry else "always"}
        for key in ("not_empty", "unique"):
            if getattr(args, key):
                v[key] = True
        for key in ("value_list", "calc", "message"):
            if getattr(args, key):
                v[key] = getattr(args, key)
        if args.range:
            v["range"] = list(args.range)
        if args.context is not None:
            if not args.calc:
                raise UsageError("--context goes with --calc: only a calculation is evaluated from a context")
            v["context"] = args.context
        if len(v) == 1:
            raise UsageError("give at least one rule: --not-empty, --unique, --value-list, --range or --calc")
        opts.validate = v
    db.define_field(args.table, args.field, opts)
    return _done(db)


def cmd_value_list(args) -> int:
    db = _open(args)
    if args.values:
        db.define_value_list(args.name, list(args.values))
    else:
        table, sep, field = args.field.rpartition("::")
        if not sep:
            raise UsageError("--field takes TABLE::FIELD")
        db.define_value_list(args.name, None, table, field)
    return _done(db)


def cmd_field_options(args) -> int:
    from .fielddefs import FieldOptions

    db = _open(args)
    if args.json is not None:
        text = sys.stdin.read() if args.json == "-" else args.json
        try:
            opts = FieldOptions.from_json(text)
        except (ValueError, AttributeError) as e:
            raise UsageError(f"the options are not a JSON object: {e}") from None
        db.define_field(args.table, args.field, opts)
    else:
        sys.stdout.write(json.dumps(json.loads(_current(db, args.table, args.field).to_json()), indent=2,
                                    ensure_ascii=False) + "\n")
    return _done(db)
