"""The query behind every token verification: the user by name, and whether the
token was signed out, in one statement compiled once per database vendor.

``accounts.tokens.verify`` (HTTP and WebSocket alike) calls
:func:`user_and_revocation`; nothing else should.
"""

from django.db import connections

from accounts.models import RevokedToken, User


class UserLookup:
    """The query behind every authenticated request and handshake, compiled once.

    It is the ORM's ``User.objects.filter(username=...).annotate(
    revoked=Exists(...)).first()`` written out: building and compiling that
    queryset cost more than the query itself, on every request (py-spy).
    Values go through the same converters the ORM applies, and the user is
    built with ``User.from_db``, so it is the model instance the ORM makes.
    """

    def __init__(self, connection):
        q = connection.ops.quote_name
        table = q(User._meta.db_table)
        fields = User._meta.concrete_fields
        columns = ", ".join(f"{table}.{q(field.column)}" for field in fields)
        self.sql = (
            f"SELECT {columns}, EXISTS (SELECT 1 FROM "  # noqa: S608 (names from the models)
            f"{q(RevokedToken._meta.db_table)} WHERE {q('token_id')} = %s) "
            f"FROM {table} WHERE {table}.{q('username')} = %s"
        )
        self.attnames = [field.attname for field in fields]
        self.converters = []
        for index, field in enumerate(fields):
            column = field.get_col(User._meta.db_table)
            found = connection.ops.get_db_converters(column) + (
                field.get_db_converters(connection)
            )
            if found:
                self.converters.append((index, column, found))

    def fetch(self, connection, username: str, token_id: str):
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [token_id, username])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row[:-1])
        for index, column, converters in self.converters:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        return User.from_db(connection.alias, self.attnames, values), bool(row[-1])


_lookups: dict[str, UserLookup] = {}


def user_and_revocation(username: str, token_id: str) -> tuple[User, bool] | None:
    """The user named ``username`` and whether ``token_id`` was signed out."""
    connection = connections[User.objects.db]
    lookup = _lookups.get(connection.vendor)
    if lookup is None:
        lookup = _lookups[connection.vendor] = UserLookup(connection)
    return lookup.fetch(connection, username, token_id)
