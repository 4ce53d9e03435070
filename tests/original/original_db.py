"""The original app's MySQL database, filled the way the original filled it.

Its tables as its code used them: ``usuarios(usuario, nombre, rol, pass,
imagen)`` and ``mensajes(de_usuario, para_usuario, mensaje, fecha)``, utf8mb4,
``fecha`` defaulting to CURRENT_TIMESTAMP, ``mensajes`` with or without an
``id`` (the real one may have either). Messages go in through exactly the
original's INSERT, which leaves ``fecha`` to the server; a test that needs
messages in the past names their ``fecha`` (in UTC) instead.
"""

from dataclasses import dataclass
from datetime import datetime

import pymysql

from tests.original.mariadb import DATABASE, PASSWORD, USER, MariaDB

# The original's own statements (mysql2 placeholders as PyMySQL's).
INSERT_MESSAGE = (
    "INSERT INTO mensajes (de_usuario, para_usuario, mensaje) VALUES (%s, %s, %s)"
)
INSERT_ACCOUNT = (
    "INSERT INTO usuarios (usuario, nombre, rol, pass, imagen) "
    "VALUES (%s, %s, %s, %s, %s)"
)
INSERT_PAST_MESSAGE = (
    "INSERT INTO mensajes (de_usuario, para_usuario, mensaje, fecha) "
    "VALUES (%s, %s, %s, %s)"
)


@dataclass(frozen=True)
class Schema:
    """How the original's tables were declared."""

    # mensajes.id INT AUTO_INCREMENT PRIMARY KEY, or no id at all.
    message_ids: bool = True
    # TIMESTAMP (an instant) or DATETIME (a wall clock in the server's zone).
    fecha: str = "TIMESTAMP"
    # usuarios.usuario as PRIMARY KEY (case-insensitive, as MySQL compares
    # utf8mb4_general_ci), or no key: then "Pepe" and "pepe", or the same
    # name twice, can both be there.
    usuarios_key: bool = True

    @property
    def label(self) -> str:
        return "with-id" if self.message_ids else "without-id"


class OriginalDatabase:
    """One private MariaDB's ``chat_original`` database, as the original's."""

    def __init__(self, server: MariaDB, hashes: dict[str, str]):
        self.server = server
        self.hashes = hashes
        self.schema = Schema()
        self._connection: pymysql.Connection | None = None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def env(self) -> dict[str, str]:
        """The original app's own variables for this database."""
        return {
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(self.server.port),
            "DB_USER": USER,
            "DB_PASS": PASSWORD,
            "DB_NAME": DATABASE,
        }

    def connection(self) -> pymysql.Connection:
        """The original's user over TCP; explicit ``fecha`` values are UTC."""
        if self._connection is None or not self._connection.open:
            self._connection = pymysql.connect(
                host="127.0.0.1",
                port=self.server.port,
                user=USER,
                password=PASSWORD,
                database=DATABASE,
                charset="utf8mb4",
                autocommit=True,
                init_command="SET time_zone = '+00:00'",
            )
        return self._connection

    def root(self) -> pymysql.Connection:
        """The server's root, over its socket (for global settings)."""
        return pymysql.connect(
            unix_socket=str(self.server.socket_path),
            user="root",
            charset="utf8mb4",
            autocommit=True,
        )

    def execute(self, statement: str, params=()) -> list[tuple]:
        with self.connection().cursor() as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall())

    def create(self, schema: Schema | None = None) -> None:
        """Drop and create both tables: an empty original of ``schema``."""
        self.schema = schema or Schema()
        key = " PRIMARY KEY" if self.schema.usuarios_key else ""
        message_id = (
            "id INT AUTO_INCREMENT PRIMARY KEY, " if self.schema.message_ids else ""
        )
        self.execute("DROP TABLE IF EXISTS mensajes, usuarios")
        self.execute(
            f"CREATE TABLE usuarios (usuario VARCHAR(255) NOT NULL{key}, "
            "nombre VARCHAR(255), rol VARCHAR(20) NOT NULL DEFAULT 'user', "
            "pass VARCHAR(255) NOT NULL, imagen VARCHAR(255) NULL) "
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        )
        self.execute(
            f"CREATE TABLE mensajes ({message_id}"
            "de_usuario VARCHAR(255) NOT NULL, para_usuario VARCHAR(255) NOT NULL, "
            f"mensaje TEXT NOT NULL, fecha {self.schema.fecha} "
            "DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        )

    def add_user(
        self,
        usuario: str,
        nombre: str | None = None,
        rol: str = "user",
        *,
        password: str | None = None,
        pass_hash: str | None = None,
        imagen: str | None = None,
    ) -> None:
        """A registration: ``password`` must be one of the session's hashed
        ones (``hashes``); otherwise the first of them is used."""
        if pass_hash is None:
            pass_hash = (
                self.hashes[password] if password else next(iter(self.hashes.values()))
            )
        self.execute(INSERT_ACCOUNT, (usuario, nombre, rol, pass_hash, imagen))

    def send(self, de: str, para: str, mensaje: str, fecha: str | None = None) -> None:
        """A message as the original stored it; with ``fecha`` (UTC,
        "2024-03-01 09:00:00"), one from the past."""
        if fecha is None:
            self.execute(INSERT_MESSAGE, (de, para, mensaje))
        else:
            self.execute(INSERT_PAST_MESSAGE, (de, para, mensaje, fecha))

    def count(self, table: str) -> int:
        assert table in ("usuarios", "mensajes")
        return self.execute(f"SELECT COUNT(*) FROM {table}")[0][0]  # noqa: S608

    def server_now(self) -> datetime:
        """The server's clock, in UTC, naive."""
        return self.execute("SELECT UTC_TIMESTAMP()")[0][0]

    def close(self) -> None:
        if self._connection is not None and self._connection.open:
            self._connection.close()
        self._connection = None


# The passwords the original's users registered with, hashed once per session
# by bcryptjs. The original had no rules: a short all-digit one, one with
# accents, one with emoji, one longer than bcrypt's 72 bytes (bcryptjs used
# only the first 72).
OLD_PASSWORDS = {
    "ana": "ana-la-de-siempre",
    "soporte": "soporte-2019!",
    "sofia": "contraseña-ñandú",
    "luis": "emoji 🎉🔑 clave",
    "digits": "1234",
    "long": "una frase de contraseña muy larga que pasa de setenta y dos bytes, "
    "de verdad que sí",
}
