"""The original app's MySQL data for ``bench.import_original``, made on the
MariaDB server itself (``INSERT ... SELECT`` over the sequence engine), and
the counts an import of it must reach."""

import subprocess
import time

from tests.original.mariadb import MariaDB

N_ADMINS = 5
ADMINS = [f"admin{i}" for i in range(1, N_ADMINS + 1)]
PASSWORD = "original-bench-pw"  # noqa: S105 (the benchmark's accounts' password)
# The share of message rows of each kind, per mille: user -> user (skipped
# by the importer), an admin's reply; the rest a user writing to the team.
USER_TO_USER, ADMIN_REPLY = 30, 470
YEAR_SECONDS = 365 * 24 * 3600
FIRST_MESSAGE_AT = "2025-01-06 08:00:00"

FIRST_NAMES = [
    ("María", "maria"), ("José", "jose"), ("Lucía", "lucia"), ("Sofía", "sofia"),
    ("Martín", "martin"), ("Ana", "ana"), ("Carlos", "carlos"), ("Emma", "emma"),
    ("Olivia", "olivia"), ("James", "james"), ("Liam", "liam"), ("Noah", "noah"),
    ("Valentina", "valentina"), ("Mateo", "mateo"), ("Camila", "camila"),
    ("Diego", "diego"), ("Isabel", "isabel"), ("Javier", "javier"),
    ("Elena", "elena"), ("Pablo", "pablo"), ("Chloe", "chloe"), ("Jack", "jack"),
    ("Inés", "ines"), ("Íñigo", "inigo"),
]  # fmt: skip
SURNAMES = [
    ("Núñez", "nunez"), ("García", "garcia"), ("Pérez", "perez"), ("López", "lopez"),
    ("Martínez", "martinez"), ("Gómez", "gomez"), ("Fernández", "fernandez"),
    ("Ruiz", "ruiz"), ("Smith", "smith"), ("Johnson", "johnson"), ("Brown", "brown"),
    ("Williams", "williams"), ("Ibáñez", "ibanez"), ("Muñoz", "munoz"),
    ("Castaño", "castano"), ("O'Brien", "obrien"), ("Taylor", "taylor"),
    ("Díaz", "diaz"), ("Romero", "romero"), ("Álvarez", "alvarez"),
]  # fmt: skip
# Each 20 to 80 characters; a message is 1 to 5 of them, cut at 300. A
# thread is in Spanish or in English (by its user's number); the user writes
# the customer's phrases, the team its own.
PHRASES = {
    ("user", "es"): [
        "Hola, buenas tardes.",
        "Buenos días, tengo un problema con mi pedido.",
        "No me ha llegado el paquete todavía y ya pasó una semana.",
        "¿Podrían revisar el estado del envío, por favor?",
        "El número de pedido es 48213-B, lo pagué con tarjeta.",
        "Me cobraron dos veces la misma factura este mes.",
        "Quiero cambiar la dirección de envío a Calle Mayor 12, 3º izq.",
        "No puedo iniciar sesión, dice que la contraseña es incorrecta.",
        "¿Cuánto tarda el reembolso en aparecer en la cuenta?",
        "Gracias por la respuesta tan rápida 😊",
        "La aplicación se cierra sola cuando abro el carrito.",
        "¿Tienen la talla M en azul? En la web aparece agotada.",
        "Ya lo intenté de nuevo y sigue sin funcionar.",
        "Adjunto la captura del error: «código 502».",
        "Hola, soy José, escribí ayer por lo del envío.",
        "Sigo esperando respuesta sobre la factura de marzo…",
        "La contraseña nueva tampoco funciona, ¿qué hago?",
        "Vale, quedo atento. ¡Gracias!",
    ],
    ("user", "en"): [
        "Hello, I need help with my account please.",
        "My order arrived damaged, the box was completely crushed.",
        "Can I get a refund instead of a replacement?",
        "I was charged twice for the same subscription.",
        "The tracking number doesn't work on the courier's site.",
        "Thanks a lot, that fixed it!",
        "Could you tell me when the item will be back in stock?",
        "I'd like to cancel my order before it ships.",
        "Ok, I'll wait for the email then.",
        "Hi again, any news about order #50917?",
        'The discount code "WINTER20" says it has expired.',
        "I can't find the invoice in my account, where is it?",
    ],
    ("admin", "es"): [
        "Hola, gracias por escribirnos.",
        "Lo reviso y te escribo en un momento.",
        "Hemos emitido el reembolso; tardará de 3 a 5 días hábiles.",
        "Disculpa las molestias, ya hemos enviado un paquete nuevo.",
        "¿Me confirmas el correo con el que hiciste la compra?",
        "He restablecido tu contraseña, revisa tu bandeja de entrada.",
        "El pedido salió del almacén esta mañana.",
        "Perfecto, muchas gracias por tu paciencia.",
        "Un saludo y que tengas buen día.",
        "La talla M vuelve a estar disponible la semana que viene.",
    ],
    ("admin", "en"): [
        "Hi, thanks for reaching out.",
        "We've refunded the duplicate charge, sorry about that.",
        "Your replacement ships tomorrow with express delivery.",
        "Could you send us a photo of the damaged item?",
        "I've escalated this to our logistics team.",
        "Is there anything else I can help you with?",
        "You'll find every invoice under Account > Orders.",
        "That code ended on Sunday, but I've applied 20% by hand.",
    ],
}


def q(text: str) -> str:
    """A MariaDB string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def elt(index_sql: str, values) -> str:
    """``values[index_sql % len(values)]`` as SQL."""
    return f"ELT(1 + ({index_sql}) % {len(values)}, {', '.join(q(v) for v in values)})"


def hashed(salt: str, column: str = "seq") -> str:
    """A deterministic pseudo-random 32-bit number of ``column``."""
    return f"CRC32(CONCAT('{salt}', {column}))"


def username_sql(n: str) -> str:
    """User number ``n``'s ``usuario`` (``maria.nunez42``): its number keeps
    it unique."""
    first = elt(n, [login for _, login in FIRST_NAMES])
    last = elt(f"{n} DIV {len(FIRST_NAMES)}", [login for _, login in SURNAMES])
    return f"CONCAT({first}, '.', {last}, {n})"


def sql(db: MariaDB, statements: str, timeout: float = 1800) -> str:
    """``statements`` as root in the original's database; their output.
    (``MariaDB.sql`` allows 60 s, too few for a million rows, and leaves the
    client's character set to the locale.)"""
    done = subprocess.run(
        ["mariadb", "--no-defaults", "-S", str(db.socket_path), "-uroot",
         "--default-character-set=utf8mb4", "-D", "chat_original", "-e", statements],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"mariadb: {done.stderr.strip()}\n{statements[:2000]}")
    return done.stdout


def fill(db: MariaDB, accounts: int, messages: int, password_hash: str) -> dict:
    """The original's tables, filled on the server; what they hold."""
    users = accounts - N_ADMINS
    if users < 2:
        raise SystemExit(f"--accounts must be at least {N_ADMINS + 2}")
    started = time.monotonic()
    # The original's schema (its CREATE TABLEs, as the app's setup made them).
    sql(
        db,
        "CREATE TABLE usuarios ("
        " usuario VARCHAR(50) NOT NULL PRIMARY KEY,"
        " nombre VARCHAR(100) NOT NULL,"
        " rol VARCHAR(10) NOT NULL DEFAULT 'user',"
        " pass VARCHAR(255) NOT NULL,"
        " imagen VARCHAR(255) NULL"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4; "
        "CREATE TABLE mensajes ("
        " id INT AUTO_INCREMENT PRIMARY KEY,"
        " de_usuario VARCHAR(50) NOT NULL,"
        " para_usuario VARCHAR(50) NOT NULL,"
        " mensaje TEXT NOT NULL,"
        " fecha TIMESTAMP DEFAULT CURRENT_TIMESTAMP"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;",
    )
    admins = ", ".join(
        f"({q(name)}, {q(f'Equipo {i}')}, 'admin', {q(password_hash)}, NULL)"
        for i, name in enumerate(ADMINS, 1)
    )
    first = elt("seq", [name for name, _ in FIRST_NAMES])
    last = elt(f"seq DIV {len(FIRST_NAMES)}", [name for name, _ in SURNAMES])
    login = username_sql("seq")
    sql(
        db,
        f"INSERT INTO usuarios VALUES {admins}; "  # noqa: S608 (our own literals)
        "INSERT INTO usuarios (usuario, nombre, rol, pass, imagen) "
        f"SELECT {login}, CONCAT({first}, ' ', {last}), 'user', {q(password_hash)}, "
        f"  IF({hashed('i')} % 10 < 3, CONCAT({login}, '.jpg'), NULL) "
        f"FROM seq_1_to_{users};",
    )
    accounts_s = time.monotonic() - started

    # Each row's thread: user u = 1 + floor(users * r^2), r uniform in [0, 1):
    # low numbers get thousands of messages, the last ones a few each.
    # Admins mostly answer the threads "theirs" (u % 5), sometimes another's.
    def phrase(k: int) -> str:
        return (
            "CASE "
            + " ".join(
                f"WHEN t.team = {int(who == 'admin')} "
                f"AND t.u % 2 = {int(lang == 'en')} "
                f"THEN {elt(hashed(f'p{k}'), texts)}"
                for (who, lang), texts in PHRASES.items()
            )
            + " END"
        )

    text = (
        "CONCAT_WS(' ', "
        + ", ".join(
            phrase(k) if k == 0 else f"IF(t.parts > {k}, {phrase(k)}, NULL)"
            for k in range(5)
        )
        + ")"
    )
    own_admin = (
        f"CONCAT('admin', 1 + IF({hashed('o')} % 10 < 8, t.u, {hashed('a')}) "
        f"% {N_ADMINS})"
    )
    step = YEAR_SECONDS / messages
    began = time.monotonic()
    sql(
        db,
        "INSERT INTO mensajes (id, de_usuario, para_usuario, mensaje, fecha) "  # noqa: S608 (our own literals)
        "SELECT seq,"
        f"  IF(t.team, {own_admin}, {username_sql('t.u')}),"
        f"  CASE WHEN t.kind < {USER_TO_USER} THEN {username_sql('t.v')}"
        f"    WHEN t.kind < {USER_TO_USER + ADMIN_REPLY} THEN {username_sql('t.u')}"
        "    ELSE 'admin' END,"
        f"  LEFT({text}, 300),"
        f"  TIMESTAMP('{FIRST_MESSAGE_AT}') + INTERVAL FLOOR(seq * {step:.6f}) SECOND "
        "FROM (SELECT seq,"
        f"  1 + FLOOR({users} * POW({hashed('u')} / 4294967296, 2)) AS u,"
        f"  1 + {hashed('v')} % {users} AS v,"
        f"  {hashed('k')} % 1000 AS kind,"
        f"  {hashed('k')} % 1000 BETWEEN {USER_TO_USER}"
        f"    AND {USER_TO_USER + ADMIN_REPLY - 1} AS team,"
        f"  1 + {hashed('n')} % 5 AS parts "
        f"  FROM seq_1_to_{messages}) AS t",
    )
    messages_s = time.monotonic() - began
    began = time.monotonic()
    expected = expected_counts(db)
    return {
        "accounts_s": round(accounts_s, 1),
        "messages_s": round(messages_s, 1),
        "fill_s": round(began - started, 1),
        "counted_s": round(time.monotonic() - began, 1),
        **expected,
    }


def expected_counts(db: MariaDB) -> dict:
    """What a correct import makes of the rows: accounts, messages (the
    user -> team and admin -> user rows), threads (users with such a row),
    threads whose newest such row is the team's."""
    admins = ", ".join(q(a) for a in ADMINS)
    importable = (
        f"((m.de_usuario IN ({admins}) AND m.para_usuario NOT IN ({admins}, 'admin')) "
        f"OR (m.de_usuario NOT IN ({admins}) AND m.para_usuario = 'admin'))"
    )
    thread = f"IF(m.de_usuario IN ({admins}), m.para_usuario, m.de_usuario)"
    out = sql(
        db,
        "SELECT (SELECT COUNT(*) FROM usuarios), (SELECT COUNT(*) FROM mensajes),"  # noqa: S608 (our own literals)
        f" (SELECT COUNT(*) FROM mensajes m WHERE {importable}),"
        f" (SELECT COUNT(DISTINCT {thread}) FROM mensajes m WHERE {importable}),"
        " (SELECT COUNT(*) FROM mensajes m2 JOIN"
        f"   (SELECT MAX(m.id) AS id FROM mensajes m WHERE {importable}"
        f"    GROUP BY {thread}) AS l"
        f"   ON m2.id = l.id WHERE m2.de_usuario IN ({admins})),"
        " (SELECT ROUND(AVG(CHAR_LENGTH(mensaje)), 1) FROM mensajes),"
        " (SELECT MIN(CHAR_LENGTH(mensaje)) FROM mensajes),"
        " (SELECT MAX(CHAR_LENGTH(mensaje)) FROM mensajes),"
        " (SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM mensajes m"
        f"   WHERE {importable} GROUP BY {thread}) AS s),"
        " (SELECT ROUND(SUM(data_length + index_length) / 1048576)"
        "   FROM information_schema.tables WHERE table_schema = 'chat_original')",
    ).splitlines()[-1]
    fields = [float(x) if "." in x else int(x) for x in out.split("\t")]
    names = [
        "source_accounts", "source_messages", "expected_messages", "expected_threads",
        "threads_ending_with_team_reply", "text_avg_chars", "text_min_chars",
        "text_max_chars", "largest_thread", "source_mib",
    ]  # fmt: skip
    return dict(zip(names, fields, strict=True))


# -- the targets ---------------------------------------------------------------------
