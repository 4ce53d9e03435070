"""Many rows per statement, written for each database's strength.

PostgreSQL takes one array per column (``INSERT ... SELECT FROM unnest``):
the statement's text stays the same whatever the number of rows, so
psycopg converts it once and caches it. A VALUES list of a thousand rows
is a new text of eight thousand placeholders each time, and parsing it in
psycopg took most of the import's time (py-spy). SQLite gets VALUES lists
kept within its 32,766 parameters.
"""

from django.db import connection
from django.db.models import Model

SQLITE_MAX_PARAMETERS = 32_766


def insert(
    cursor,
    model: type[Model],
    columns: tuple[str, ...],
    rows: list[tuple],
    *,
    suffix: str = "",
) -> list[tuple]:
    """INSERT ``rows`` (values in ``columns``' order) into ``model``'s table;
    ``suffix`` (an ON CONFLICT or RETURNING clause) is added to each statement,
    and the rows it returns are returned."""
    if not rows:
        return []
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    head = f"INSERT INTO {table} ({', '.join(q(column) for column in columns)}) "
    returned: list[tuple] = []
    if connection.vendor == "postgresql":
        fields = {field.column: field for field in model._meta.concrete_fields}
        arrays = ", ".join(
            f"%s::{fields[column].db_type(connection)}[]" for column in columns
        )
        cursor.execute(
            f"{head}SELECT * FROM unnest({arrays}){suffix}",  # noqa: S608 (names from the model)
            [list(values) for values in zip(*rows, strict=True)],
        )
        return cursor.fetchall() if "RETURNING" in suffix else []
    per_statement = SQLITE_MAX_PARAMETERS // len(columns)
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        cursor.execute(
            f"{head}VALUES {', '.join([row] * len(chunk))}{suffix}",
            [value for values in chunk for value in values],
        )
        if "RETURNING" in suffix:
            returned += cursor.fetchall()
    return returned


def present(cursor, model: type[Model], column: str, values: list) -> set:
    """Those of ``values`` found in ``model``'s ``column``."""
    q = connection.ops.quote_name
    select = f"SELECT {q(column)} FROM {q(model._meta.db_table)} WHERE {q(column)} "  # noqa: S608 (names from the model)
    if connection.vendor == "postgresql":
        cursor.execute(select + "= ANY(%s)", [values])
        return {value for (value,) in cursor.fetchall()}
    found = set()
    for start in range(0, len(values), SQLITE_MAX_PARAMETERS):
        chunk = values[start : start + SQLITE_MAX_PARAMETERS]
        cursor.execute(select + f"IN ({', '.join(['%s'] * len(chunk))})", chunk)
        found.update(value for (value,) in cursor.fetchall())
    return found
