"""The customers → invoices → line items file of the relationship tests, built from code (as dbfixtures)."""
from __future__ import annotations

from pathlib import Path

from fmscript.data import open_database

CUSTOMERS = [(1, "Acme", "Boston"), (2, "Globex", "Paris"), (3, "Initech", "Austin")]
INVOICES = [  # ID, CustomerID, Date, Status
    (10, 1, "2024-01-05", "paid"), (11, 1, "2024-03-01", "open"), (12, 2, "2024-02-10", "open"),
]
LINES = [  # InvoiceID, Product, Qty, Price
    (10, "Anvil", 2, "10.5"), (10, "Rope", 1, "3"), (11, "Anvil", 1, "10.5"), (12, "Gear", 4, "2.25"),
]


def build_sales(path: Path | None) -> object:
    """Customers, Invoices and LineItems, related Customers::ID = Invoices::CustomerID (creation allowed,
    invoices sorted newest first) and Invoices::ID = LineItems::InvoiceID (creation and deletion of line
    items); layouts of each table and a portal of line items on the Invoices layout.  ``path`` None: in memory
    (the open database comes back); else the file's path."""
    db = open_database(path)
    db.create_table("Customers", [("ID", "number", False), ("Name", "text", False), ("City", "text", False)])
    db.create_table("Invoices", [("ID", "number", False), ("CustomerID", "number", False),
                                 ("Date", "date", False), ("Status", "text", False)])
    db.create_table("LineItems", [("InvoiceID", "number", False), ("Product", "text", False),
                                  ("Qty", "number", False), ("Price", "number", False)])
    db.create_table("Products", [("Name", "text", False), ("Stock", "number", False)])
    db.conn.executemany('INSERT INTO "Customers" VALUES (?, ?, ?)', CUSTOMERS)
    db.conn.executemany('INSERT INTO "Invoices" VALUES (?, ?, ?, ?)', INVOICES)
    db.conn.executemany('INSERT INTO "LineItems" VALUES (?, ?, ?, ?)', LINES)
    db.conn.executemany('INSERT INTO "Products" VALUES (?, ?)', [("anvil", 5), ("Rope", 0), ("Gear", 12)])
    db.relate(["Customers::ID = Invoices::CustomerID"], allow_creation=("Invoices",),
              sort={"Invoices": "Invoices::Date descending"})
    db.relate(["Invoices::ID = LineItems::InvoiceID"], allow_creation=("LineItems",),
              delete_related=("LineItems",))
    db.relate(["LineItems::Product = Products::Name"])
    db.add_portal("Invoices", "LineItems", "Lines", allow_delete=True)
    if path is None:
        return db
    db.close()
    return path
