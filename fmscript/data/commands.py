"""``fmscript db …``: start a FileMaker file from data you already have, and look inside it.

    fmscript db create-table -f app.sqlite Support_QA Question Answer Status Priority:number
    fmscript db import -f app.sqlite qa.csv --table Support_QA
    fmscript db find -f app.sqlite Support_QA "Support_QA::Status: ==open"
    fmscript db sort -f app.sqlite Support_QA "Support_QA::Priority descending"
    fmscript db schema -f app.sqlite
"""
from __future__ import annotations

import argparse
import sys

from ..errors import UsageError


def add_commands(sub) -> None:
    p = sub.add_parser("db", help="create tables, import data, store finds and sorts, show the schema")
    p.add_argument("-f", "--file", metavar="DB", help="the SQLite database (created when missing)")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION")

    def action(name, help_text, func, description=None):
        a = dsub.add_parser(name, help=help_text, description=description or help_text,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        a.add_argument("-f", "--file", metavar="DB", default=argparse.SUPPRESS,
                       help="the SQLite database (created when missing)")
        a.set_defaults(func=func)
        return a

    a = action("create-table", "create a table: NAME FIELD[:type[:global]] …", cmd_create_table)
    a.add_argument("table")
    a.add_argument("fields", nargs="*", metavar="FIELD[:TYPE[:global]]",
                   help="type: text (default), number, date, time, timestamp")

    a = action("add-field", "add a field to a table (or change its type/storage)", cmd_add_field)
    a.add_argument("table")
    a.add_argument("field")
    a.add_argument("--type", default="text", choices=("text", "number", "date", "time", "timestamp"))
    a.add_argument("--global", dest="is_global", action="store_true", help="global storage (one value per file)")
    a.add_argument("--repetitions", type=int, default=1)

    a = action("import", "import a CSV, TSV or JSONL file into a table (created when missing)", cmd_import)
    a.add_argument("source", metavar="FILE")
    a.add_argument("--table", help="the table (default: the file's name without extension)")

    a = action("layout", "add a layout (and a table occurrence) for a table", cmd_layout)
    a.add_argument("layout")
    a.add_argument("--table", required=True, help="the base table")
    a.add_argument("--occurrence", help="the table occurrence (default: the layout's name)")

    a = action("find", "store the find requests of Perform Find [ Restore ] for a layout", cmd_find,
               "Store the find requests of Perform Find [ Restore ] for a layout (see docs/data.md).\n\n"
               "One request per line; Table::Field: criterion pairs joined by AND; Omit before an omit request:\n"
               "  fmscript db find -f app.sqlite Support_QA 'Support_QA::Status: ==open AND Support_QA::Priority: >1'\n"
               "  printf 'T::City: boston\\nOmit T::Age: <18\\n' | fmscript db find -f app.sqlite T -")
    a.add_argument("layout")
    a.add_argument("requests", nargs="?", help="requests text (see docs/data.md); - reads stdin")
    a.add_argument("--script", default="", help="only for this script (default: every script)")
    a.add_argument("--line", type=int, help="only for the step on this line of --script")
    a.add_argument("--clear", action="store_true", help="remove the stored find")

    a = action("sort", "store the sort order of Sort Records [ Restore ] for a layout", cmd_sort,
               "Store the sort order of Sort Records [ Restore ] for a layout (see docs/data.md):\n"
               "  fmscript db sort -f app.sqlite Support_QA 'Support_QA::Priority descending; Support_QA::Question'")
    a.add_argument("layout")
    a.add_argument("order", nargs="?", help="e.g. \"T::Date descending; T::Name\"; - reads stdin")
    a.add_argument("--script", default="", help="only for this script (default: every script)")
    a.add_argument("--line", type=int, help="only for the step on this line of --script")
    a.add_argument("--clear", action="store_true", help="remove the stored sort order")

    a = action("occurrence", "add a table occurrence of a base table (for the relationship graph)", cmd_occurrence)
    a.add_argument("occurrence")
    a.add_argument("--table", required=True, help="the base table")

    a = action("relate", "relate two table occurrences by match criteria", cmd_relate,
               "Relate two table occurrences (see docs/data.md, Relationships):\n"
               "  fmscript db relate -f app.sqlite 'Customers::ID = Invoices::CustomerID' --allow-creation Invoices \\\n"
               "      --sort 'Invoices::Date descending'\n"
               "Several criteria (all must match): repeat them; operators = ≠ < ≤ > ≥ × (also <> <= >=).")
    a.add_argument("criteria", nargs="+", metavar="'A::x = B::y'")
    a.add_argument("--allow-creation", action="append", default=[], metavar="OCCURRENCE",
                   help="allow creating records of this side through the relationship")
    a.add_argument("--delete-related", action="append", default=[], metavar="OCCURRENCE",
                   help="delete records of this side when the related record of the other side is deleted")
    a.add_argument("--sort", action="append", default=[], metavar="'Occ::Field [descending]; …'",
                   help="sort the related records of the side the fields belong to")
    a.add_argument("--remove", action="store_true", help="remove the relationship between the two occurrences")

    a = action("portal", "add a portal (related records) to a layout", cmd_portal)
    a.add_argument("layout")
    a.add_argument("occurrence", help="the related table occurrence the portal shows")
    a.add_argument("--name", help="the portal's object name (default: the occurrence)")
    a.add_argument("--filter", default="", metavar="CALCULATION",
                   help="show only the related records for which this calculation is true")
    a.add_argument("--sort", default="", metavar="'Occ::Field [descending]; …'",
                   help="the portal's own sort order (default: the relationship's)")
    a.add_argument("--allow-deletion", action="store_true",
                   help="Delete Portal Row may delete its rows (FileMaker's default: off)")

    a = action("show-graph", "show the relationship graph (text, or a picture with --svg/--png)", cmd_show_graph)
    a.add_argument("--svg", metavar="FILE", help="write the graph as SVG")
    a.add_argument("--png", metavar="FILE", help="write the graph as PNG (needs matplotlib: pip install fmscript[plot])")

    action("schema", "show tables, fields, layouts, stored finds and sort orders", cmd_schema)
    from .fielddef_commands import add_commands as add_fielddef_commands
    add_fielddef_commands(action)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def open_for(args, must_exist: bool = False):
    """The database a ``db`` action names with ``-f`` (``must_exist``: refuse to create it)."""
    return _open(args, must_exist)


def _open(args, must_exist: bool = False):
    from pathlib import Path

    from . import open_database
    if not getattr(args, "file", None):
        raise UsageError("fmscript db needs a database: -f app.sqlite")
    if must_exist and not Path(args.file).is_file():
        raise UsageError(f"no such database file: {args.file}")
    return open_database(args.file)


def _text_arg(value: str | None, what: str) -> str:
    if value is None:
        raise UsageError(f"give the {what}, or - to read it from stdin")
    return sys.stdin.read() if value == "-" else value


def cmd_create_table(args) -> int:
    fields = []
    for spec in args.fields:
        parts = spec.split(":")
        name = parts[0].strip()
        ftype = (parts[1].strip().lower() if len(parts) > 1 and parts[1].strip() else "text")
        glob = len(parts) > 2 and parts[2].strip().lower() in ("global", "g")
        if not name:
            raise UsageError(f"“{spec}” has no field name")
        fields.append((name, ftype, glob))
    db = _open(args)
    db.create_table(args.table, fields)
    db.close()
    sys.stderr.write(f"created table {args.table} with {len(fields)} field{'s' if len(fields) != 1 else ''}\n")
    return 0


def cmd_add_field(args) -> int:
    db = _open(args, True)
    db.add_field(args.table, args.field, args.type, args.is_global, args.repetitions)
    db.close()
    return 0


def cmd_import(args) -> int:
    from pathlib import Path

    from .transfer import import_rows
    src = Path(args.source)
    if not src.is_file():
        raise UsageError(f"no such file: {args.source}")
    db = _open(args)
    from . import fielddef_commands
    if fielddef_commands.session_factory is not None:  # auto-enter calculations need one
        db.attach(fielddef_commands.session_factory(db))
    ti, ids = import_rows(db, args.table or src.stem, src)
    db.close()
    sys.stderr.write(f"imported {len(ids)} record{'s' if len(ids) != 1 else ''} into {ti.name}\n")
    return 0


def cmd_layout(args) -> int:
    db = _open(args, True)
    db.add_layout(args.layout, args.occurrence or args.layout, args.table)
    db.close()
    return 0


def _store(args, kind: str, value: str | None, what: str) -> int:
    if args.line is not None:
        if not args.script:
            raise UsageError("--line needs --script: the line of a step in that script")
        args.script = f"{args.script}:{args.line}"
    db = _open(args, True)
    lay = db.layouts().get(args.layout.casefold())
    if lay is None:
        raise UsageError(f"there is no layout named “{args.layout}”; layouts: " + ", ".join(db.layout_names()))
    if args.clear:
        db.unstore(kind, lay[0], args.script)
        db.close()
        return 0
    text = _text_arg(value, what).strip()
    ctx = db.context(lay[1])
    # Parse now, so that a mistake shows here rather than when a script runs.
    if kind == "finds":
        db.requests_from_text(ctx, text)
    else:
        db.sort_spec_from_text(ctx, text)
    db.store(kind, lay[0], text, args.script)
    db.close()
    return 0


def cmd_find(args) -> int:
    return _store(args, "finds", args.requests, "find requests")


def cmd_sort(args) -> int:
    return _store(args, "sorts", args.order, "sort order")


def cmd_schema(args) -> int:
    db = _open(args, True)
    out = []
    for ti in db.tables().values():
        out.append(f"table {ti.name} ({db.total_count(ti.name)} records)")
        for fi in ti.fields:
            extra = (" global" if fi.is_global else "") + (f" [{fi.repetitions}]" if fi.repetitions > 1 else "")
            opts = db.field_options(ti.name, fi.name)
            if opts is not None:
                extra += " " + opts.to_json()
            out.append(f"  {fi.name}: {fi.type}{extra}")
    for name, occ in db.layouts().values():
        table = db.table_of(occ).name
        out.append(f"layout {name} → {occ}" + (f" ({table})" if table != occ else ""))
    for name in db.value_list_names():
        out.append(f"value list {name}: " + "; ".join(db.value_list_items(name)))
    for lay, script, text in db.stored_all("finds"):
        where = f" in script {script}" if script else ""
        out.append(f"find {lay}{where}: " + text.replace("\n", " | "))
    for lay, script, text in db.stored_all("sorts"):
        where = f" in script {script}" if script else ""
        out.append(f"sort {lay}{where}: " + text.replace("\n", "; "))
    db.close()
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    return 0


def cmd_occurrence(args) -> int:
    db = _open(args, True)
    db.add_occurrence(args.occurrence, args.table)
    db.close()
    return 0


def cmd_relate(args) -> int:
    from .graph import parse_criterion
    db = _open(args, True)
    if args.remove:
        lo, _, _, ro, _ = parse_criterion(args.criteria[0])
        db.unrelate(lo, ro)
        db.close()
        return 0
    sort = {}
    for text in args.sort:
        first = text.split(";")[0]
        occ = first.partition("::")[0].strip() if "::" in first else ""
        if not occ:
            raise UsageError(f"--sort “{text}”: name the fields as Occurrence::Field")
        sort[occ] = text
    rel = db.relate(args.criteria, allow_creation=tuple(args.allow_creation),
                    delete_related=tuple(args.delete_related), sort=sort)
    db.close()
    sys.stderr.write(f"related {rel.left} and {rel.right}\n")
    return 0


def cmd_portal(args) -> int:
    from . import fielddef_commands
    db = _open(args, True)
    if args.filter and fielddef_commands.session_factory is not None:
        db.attach(fielddef_commands.session_factory(db))  # the filter is refused if it does not compile
    db.add_portal(args.layout, args.occurrence, args.name, filter=args.filter, sort=args.sort,
                  allow_delete=args.allow_deletion)
    db.close()
    return 0


def cmd_show_graph(args) -> int:
    from pathlib import Path

    from . import transfer
    db = _open(args, True)
    if args.svg:
        transfer.write_text(Path(args.svg), db.graph_svg())
    if args.png:
        from .graph import write_png
        write_png(db, args.png)
    if not args.svg and not args.png:
        sys.stdout.write(db.graph_text())
    db.close()
    return 0
