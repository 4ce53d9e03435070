"""The history data set: 1,000,000 messages in 100,000 customers' threads.

Built once into a SQLite file under var/bench/ (cached by schema, see
``servers.history_database``) with raw inserts, then served as is (SQLite)
or copied into PostgreSQL (``bench.pg``), so both databases hold the same
rows.

- The history scenario's 1,000 threads (``bench-u00000`` ... ``bench-u00999``)
  hold 800,000 messages, round-robin: of every 5 ids, 4 are theirs. The other
  99,000 threads share the other 200,000 ids (1 to 8 messages each, about
  two on average), each conversation in a burst at its own time of the year.
- Texts are drawn from a vocabulary with a Zipf distribution (s = 1.1): about
  400 Spanish and English words (accents included: envío, contraseña,
  José...) ranked by frequency, then a long tail of 40,000 made-up words and
  a few real rare ones, so a search can hit 10% of the messages or a few
  dozen. Customers are named from Spanish and English first names and
  surnames (José Núñez, María García, Emma Smith ...).
- The desk state is what the app would have (chat/desk.py): ``last_message``
  the newest message, ``waiting_since`` the first of the customer's messages
  after the team's last reply (notes aside) when the newest is theirs. About
  70% of the threads are resolved (their newest message mostly the team's),
  10% unassigned (an assignment removed later, or no reply yet), the rest
  spread over the 5 bench admins, whose replies they are; 3% of the team's
  messages are notes. Read marks: most customers have read their thread,
  each assignee up to their own last reply, other admins sometimes.

The FTS5 triggers are dropped during the load and the indexes rebuilt
after (``'rebuild'``): the same index the triggers would have written,
several times faster.
"""

import json
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

MESSAGES = 1_000_000
THREADS = 100_000
HISTORY_THREADS = 1000  # the history scenario's threads: user_name(0 .. 999)
HISTORY_SHARE = 800_000  # their messages
BLOCK, HISTORY_PER_BLOCK = 5, 4  # of every 5 ids, 4 are the history threads'
SECONDS_APART = 30  # between two consecutive messages (ids)
FORMAT = 3  # bump when the generated data change shape (the cache key has it)

RESOLVED_SHARE = 0.70
UNASSIGNED_SHARE = 0.10
NOTE_SHARE = 0.03

if MESSAGES // BLOCK * HISTORY_PER_BLOCK != HISTORY_SHARE:
    raise ValueError("the history threads' share must fill their ids")
if HISTORY_SHARE % HISTORY_THREADS:
    raise ValueError("the history threads' share must divide evenly")


def _split(text: str) -> list[str]:
    return text.split()


# What the inbox scenario searches for, and why (each a row of the report).
SEARCHES = {
    "q_rare": ("chargeback", "a rare word"),
    "q_common": ("pedido", "a common word"),
    "q_accent": ("jose", "an accented word spelled without its accent (José)"),
    "q_name": ("maria nunez", "a customer's name, without accents (María Núñez)"),
    "q_two": ("factura envio", "two words"),
    "q_none": ("kwyjibo", "a word that matches nothing"),
}

# The vocabulary's head, most frequent first (rank 1 first): function words
# of both languages, then the words of a support desk.
WORDS = _split("""
de the la que to el y en you a los i se no is un it por and con para pedido
es una mi my for of lo me al le pero más this have that can on sí was be qué
order hola hello gracias thanks please favor del las está have your we not
but with cuando como muy ya hay todo bien just do will what when como
factura tengo puede envío account cuenta help ayuda problema problem
contraseña password email correo tiempo time día días today hoy ayer
yesterday número number mañana tomorrow pago payment tarjeta card
dirección address devolución refund return reembolso still todavía aún
entrega delivery paquete package invoice código code precio price semana
week cambio change también also sin without after después antes before
nuevo new aquí here there allí ahora now need necesito quiero want
puedo could would podría could gracias mucho thank you thanks again hola
buenos días buenas tardes good morning afternoon evening noche saludos
regards atentamente cordialmente sincerely favor please sorry perdón
disculpa lo siento siento apologies error fallo bug página page web app
aplicación móvil phone teléfono llamada call mensaje message chat
respuesta answer reply pregunta question información information datos
data nombre name apellido usuario user login acceso access sesión session
iniciar sign entrar enter salir exit cerrar close abrir open enlace link
botón button pantalla screen formulario form campo field enviar send
recibir receive recibido received enviado sent llegado arrived llegó
arrive arrived tarde late pronto soon rápido fast lento slow caro
expensive barato cheap gratis free oferta offer descuento discount cupón
coupon promoción promotion suscripción subscription plan premium básico
basic mensual monthly anual yearly cancelar cancel cancelación
cancellation baja alta registro registration confirmar confirm
confirmación confirmation verificar verify verificación verification
seguridad security bloqueado blocked locked desbloquear unlock
restablecer reset recuperar recover olvidé forgot cambiar modificar
update actualizar actualización version versión instalar install
descargar download archivo file adjunto attachment foto photo imagen
image captura screenshot documento document pdf recibo receipt ticket
incidencia incident reclamación complaint queja claim garantía warranty
producto product artículo item talla size color colour modelo model
stock disponible available agotado unavailable almacén warehouse
transportista carrier mensajero courier seguimiento tracking estado
status retraso delay retrasado delayed perdido lost dañado damaged roto
broken defectuoso defective incorrecto wrong equivocado mistake faltan
missing falta cobro charge cobrado charged doble double duplicado
duplicate importe amount total iva tax impuesto euros dólares dollars
transferencia transfer banco bank paypal bizum efectivo cash plazo
deadline fecha date hora hour minutos minutes urgente urgent importante
important José María Juan Carmen Ana Luis Carlos Núñez García Martínez
López Sánchez Pérez Gómez Díaz Ramírez Muñoz Álvarez Peña Ibáñez Jiménez
Ángel Inés Raúl Óscar Iván Joaquín Ramón Mónica Begoña Íñigo Sofía Lucía
Martín Andrés Jesús Madrid Barcelona Sevilla Málaga Valencia Bilbao Córdoba
León Cádiz Logroño A Coruña London España Spain México Bogotá Perú Ecuador
""")

# Real words kept rare: placed deep in the tail (rank ~30,000 and beyond).
RARE_WORDS = [
    "chargeback", "albarán", "desfibrilador", "ornitorrinco", "paraguas",
    "cortacésped", "acuarela", "mostrador", "zapatería", "murciélago",
]  # fmt: skip

FIRST_NAMES = _split("""
José María Ana Juan Carmen Lucía Luis Carlos Sofía Martín Laura Javier
Marta Pablo Elena Daniel Paula David Sara Andrés Jesús Ángel Inés Raúl
Óscar Iván Joaquín Ramón Mónica Verónica Begoña Íñigo Nuria Pilar Jorge
Diego Alejandro Adrián Álvaro Sergio Rubén Noemí Zoé Renée John Mary James
Emma Oliver Olivia William Sophie Thomas Charlotte George Emily Harry Grace
Jack Amelia Noah Ava Liam Mia Ethan Isabella Lucas Chloe Manuel Antonio
Francisco Miguel Rosa Teresa Dolores Concepción Asunción Agustín Nicolás
""")

SURNAMES = _split("""
García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Martín
Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez
Navarro Torres Domínguez Vázquez Ramos Gil Ramírez Serrano Blanco Suárez
Molina Morales Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez Iglesias
Medina Garrido Cortés Castillo Santos Lozano Guerrero Cano Prieto Méndez
Cruz Calvo Gallego Vidal León Márquez Herrera Peña Flores Cabrera Campos
Vega Fuentes Carrasco Díez Caballero Reyes Nieto Aguilar Pascual Santana
Herrero Lorenzo Montero Hidalgo Giménez Ibáñez Ferrer Durán Smith Johnson
Williams Brown Jones Miller Davis Wilson Taylor Anderson Thomas Moore
Jackson White Harris Clark Lewis Robinson Walker Young Allen King Wright
Scott Green Baker Adams Nelson Hill Campbell Mitchell O'Brien Byrne Müller
Schäfer Zubizarreta Echeverría Goñi Ordóñez Báez Patiño Quiñones Añorve
""")

TAIL_WORDS = 40_000
ZIPF_S = 1.1  # the words' Zipf exponent: 70% of the words drawn are real ones
_ONSETS = ["b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v",
           "z", "ch", "ll", "ñ", "qu", "rr", "tr", "br", "pl"]  # fmt: skip
_VOWELS, _ACCENTED = "aeiou", "áéíóú"


def history_thread_ids(thread_index: int) -> list[int]:
    """The message ids of the history scenario's thread ``thread_index``."""
    return [
        BLOCK * (k // HISTORY_PER_BLOCK) + k % HISTORY_PER_BLOCK + 1
        for k in range(thread_index, HISTORY_SHARE, HISTORY_THREADS)
    ]


def _zipf(n: int, s: float = 1.0) -> list[float]:
    return list(accumulate(1 / r**s for r in range(1, n + 1)))


def _vocabulary(rng: random.Random) -> list[str]:
    """The words, most frequent first: the head, then made-up ones with the
    rare real ones spread among them."""
    head = list(dict.fromkeys(w.lower() for w in WORDS))
    taken = set(head) | set(RARE_WORDS)
    tail: list[str] = []
    while len(tail) < TAIL_WORDS:
        word = "".join(
            rng.choice(_ONSETS)
            + (rng.choice(_ACCENTED) if rng.random() < 0.12 else rng.choice(_VOWELS))
            for _ in range(rng.choice((2, 2, 3, 3, 3, 4)))
        ) + (rng.choice("nslr") if rng.random() < 0.3 else "")
        if word not in taken:
            taken.add(word)
            tail.append(word)
    for i, word in enumerate(RARE_WORDS):
        tail.insert(30_000 + i * 1000 - len(head), word)
    return head + tail


def _names(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(first name, display name) of ``n`` customers, common names commoner."""
    first_cw, last_cw = _zipf(len(FIRST_NAMES), 0.8), _zipf(len(SURNAMES), 0.8)
    firsts = rng.choices(FIRST_NAMES, cum_weights=first_cw, k=n)
    lasts = rng.choices(SURNAMES, cum_weights=last_cw, k=2 * n)
    out = []
    for i, first in enumerate(firsts):
        name = f"{first} {lasts[2 * i]}"
        if rng.random() < 0.3:  # a second surname, as in Spain
            name += f" {lasts[2 * i + 1]}"
        out.append((first, name))
    return out


class _Texts:
    """Message texts: Zipf-distributed words, a greeting now and then."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.vocab = _vocabulary(rng)
        self.cum = _zipf(len(self.vocab), ZIPF_S)
        self._buffer: list[str] = []
        self._at = 0

    def _words(self, n: int) -> list[str]:
        if self._at + n > len(self._buffer):
            self._buffer = self.rng.choices(self.vocab, cum_weights=self.cum, k=200_000)
            self._at = 0
        self._at += n
        return self._buffer[self._at - n : self._at]

    def text(self, *, greeting: str = "") -> str:
        n = min(60, 2 + int(self.rng.expovariate(0.1)))
        words = self._words(n)
        if n > 6 and self.rng.random() < 0.5:
            words[n // 2] += ","
        body = " ".join(words)
        end = "?" if self.rng.random() < 0.25 else "."
        return greeting + body[0].upper() + body[1:] + end

    def rank(self, word: str) -> int:
        return self.vocab.index(word) + 1


def _lengths(rng: random.Random, n: int, total: int) -> list[int]:
    """Messages per conversation (1 to 8), summing to ``total``."""
    sizes, weights = [1, 2, 3, 4, 5, 6, 8], [33, 42, 15, 6, 2, 1, 1]
    lengths = rng.choices(sizes, weights=weights, k=n)
    diff = total - sum(lengths)
    while diff:
        i = rng.randrange(n)
        if diff > 0 and lengths[i] < 8:
            lengths[i] += 1
            diff -= 1
        elif diff < 0 and lengths[i] > 1:
            lengths[i] -= 1
            diff += 1
    return lengths


def _slots(rng: random.Random, lengths: list[int]) -> list[tuple[int, int]]:
    """(thread index, message number) for every id, in id order."""
    others = []
    for i, length in enumerate(lengths):
        at = rng.random()
        for j in range(length):
            others.append((at, i, j))
            at += rng.expovariate(1 / 0.0005)  # minutes to hours apart
    others.sort()
    slots = []
    counts = [0] * HISTORY_THREADS
    other = iter(others)
    for block in range(MESSAGES // BLOCK):
        for k in range(HISTORY_PER_BLOCK):
            t = (block * HISTORY_PER_BLOCK + k) % HISTORY_THREADS
            slots.append((t, counts[t]))
            counts[t] += 1
        _, i, j = next(other)
        slots.append((HISTORY_THREADS + i, j))
    return slots


CUSTOMER, TEAM, NOTE = 0, 1, 2


def _plan(rng: random.Random, lengths: list[int], n_admins: int):
    """Per thread: status, assignee (an admin index or None), sender kinds."""
    plans = []
    for t, length in enumerate(lengths):
        history = t < HISTORY_THREADS
        assignee = None if rng.random() < UNASSIGNED_SHARE else rng.randrange(n_admins)
        if history:
            resolved = rng.random() < RESOLVED_SHARE
        elif length == 1:
            resolved = rng.random() < 0.30  # closed without an answer
        else:
            resolved = rng.random() < 0.93
        kinds = []
        for j in range(length):
            if history:  # every third message the team's
                kind = TEAM if j % 3 == 2 else CUSTOMER
            elif j == 0:
                kind = CUSTOMER
            elif kinds[-1] == CUSTOMER:
                kind = TEAM if rng.random() < 0.6 else CUSTOMER
            else:
                kind = CUSTOMER if rng.random() < 0.7 else TEAM
            if kind == TEAM and rng.random() < NOTE_SHARE:
                kind = NOTE
            kinds.append(kind)
        if length > 1:
            # Resolved after the team's answer; an open one mostly waits.
            if resolved:
                kinds[-1] = TEAM
            else:
                kinds[-1] = CUSTOMER if rng.random() < 0.65 else TEAM
        plans.append((resolved, assignee, kinds))
    return plans


def build(path: Path, *, admins: list[str], user_name, progress) -> dict:
    """Fill the copied template at ``path`` with the data set; its figures."""
    from accounts.models import username_key_for

    started = time.monotonic()
    rng = random.Random(20260101)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-524288")
    triggers = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
        "AND tbl_name IN ('accounts_user', 'chat_message')"
    ).fetchall()
    for name, _ in triggers:
        db.execute(f'DROP TRIGGER "{name}"')

    # -- customers: the template's bench users renamed, the others added
    progress.update("history data set: customers")
    columns = [row[1] for row in db.execute("PRAGMA table_info(accounts_user)")]
    template = dict(
        zip(
            columns,
            db.execute(
                "SELECT * FROM accounts_user WHERE username = ?", [user_name(0)]
            ).fetchone(),
            strict=True,
        )
    )
    ids = dict(db.execute("SELECT username, id FROM accounts_user"))
    admin_ids = [ids[name] for name in admins]
    admin_names = dict(
        db.execute(
            f"SELECT id, display_name FROM accounts_user WHERE id IN "  # noqa: S608
            f"({','.join('?' * len(admin_ids))})",
            admin_ids,
        )
    )
    names = _names(rng, THREADS)
    next_id = max(ids.values()) + 1
    new_users, renamed = [], []
    users = []
    for i in range(THREADS):
        username = user_name(i)
        if username in ids:
            renamed.append((names[i][1], ids[username]))
        else:
            row = dict(template)
            row.update(
                id=next_id,
                username=username,
                username_key=username_key_for(username),
                display_name=names[i][1],
            )
            new_users.append([row[c] for c in columns])
            ids[username] = next_id
            next_id += 1
        users.append(ids[username])
    db.executemany("UPDATE accounts_user SET display_name = ? WHERE id = ?", renamed)
    db.executemany(
        f"INSERT INTO accounts_user ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join('?' * len(columns))})",
        new_users,
    )

    # -- who writes which message, and when
    progress.update("history data set: conversations")
    per_history = HISTORY_SHARE // HISTORY_THREADS
    lengths = [per_history] * HISTORY_THREADS + _lengths(
        rng, THREADS - HISTORY_THREADS, MESSAGES - HISTORY_SHARE
    )
    slots = _slots(rng, lengths[HISTORY_THREADS:])
    plans = _plan(rng, lengths, len(admin_ids))
    texts = _Texts(rng)
    start = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=365)

    def stamp(message_id: int) -> str:
        moment = start + timedelta(seconds=message_id * SECONDS_APART)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    # Per thread, as the messages go by: ids in order, last team reply, first
    # customer message after it.
    thread_ids: list[list[int]] = [[] for _ in range(THREADS)]
    kinds_seen: list[list[int]] = [[] for _ in range(THREADS)]

    def rows():
        for index, (t, j) in enumerate(slots):
            message_id = index + 1
            _, assignee, kinds = plans[t]
            kind = kinds[j]
            thread = users[t]
            first = names[t][0]
            if kind == CUSTOMER:
                sender, name, role = thread, names[t][1], "user"
                greeting = ""
                if j == 0 and rng.random() < 0.3:
                    greeting = rng.choice(("Hola, soy {}. ", "Hi, this is {}. "))
                text = texts.text(greeting=greeting.format(first))
            else:
                if kind == NOTE or assignee is None or rng.random() < 0.1:
                    a = rng.randrange(len(admin_ids))
                else:
                    a = assignee
                sender, role = admin_ids[a], "admin"
                name = admin_names[sender]
                greeting = ""
                if kind == TEAM and rng.random() < 0.2:
                    greeting = rng.choice(("Hola {}, ", "Hi {}, ")).format(first)
                text = texts.text(greeting=greeting)
            thread_ids[t].append(message_id)
            kinds_seen[t].append(kind)
            yield (
                message_id,
                thread,
                sender,
                name,
                role,
                text,
                None,
                stamp(message_id),
                int(kind == NOTE),
            )
            if message_id % 50_000 == 0:
                progress.update(f"history data set: {message_id:,} / {MESSAGES:,}")

    db.executemany(
        "INSERT INTO chat_message (id, thread_id, sender_id, sender_name, "
        "sender_role, text, client_id, created_at, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )

    # -- the desk state and the read marks, from the messages
    progress.update("history data set: desk state and read marks")
    threads, reads = [], []
    for t in range(THREADS):
        resolved, assignee, _ = plans[t]
        ids_t, kinds = thread_ids[t], kinds_seen[t]
        last_team = max(
            (k for k, kind in enumerate(kinds) if kind == TEAM), default=None
        )
        newest = max(k for k, kind in enumerate(kinds) if kind != NOTE)
        waiting = None
        if kinds[newest] == CUSTOMER:
            first_waiting = 0 if last_team is None else last_team + 1
            while kinds[first_waiting] != CUSTOMER:
                first_waiting += 1
            waiting = stamp(ids_t[first_waiting])
        threads.append(
            (
                users[t],
                ids_t[-1],
                "resolved" if resolved else "open",
                None if assignee is None else admin_ids[assignee],
                waiting,
            )
        )
        visible = [i for i, kind in zip(ids_t, kinds, strict=True) if kind != NOTE]
        roll = rng.random()
        if roll < 0.8:
            reads.append((users[t], users[t], visible[-1]))
        elif roll < 0.9 and len(visible) > 1:
            reads.append((users[t], users[t], visible[-2]))
        for a, admin in enumerate(admin_ids):
            if a == assignee:
                mark = ids_t[-1] if resolved or last_team is None else ids_t[last_team]
            elif rng.random() < 0.25:
                mark = rng.choice(ids_t)
            else:
                continue
            reads.append((admin, users[t], mark))
    db.executemany(
        "INSERT INTO chat_thread (user_id, last_message_id, status, assignee_id, "
        "waiting_since) VALUES (?, ?, ?, ?, ?)",
        threads,
    )
    db.executemany(
        "INSERT INTO chat_readstate (reader_id, thread_id, last_read_id) "
        "VALUES (?, ?, ?)",
        reads,
    )

    # -- the search indexes, as the triggers would have written them
    progress.update("history data set: search indexes (FTS5 rebuild)")
    db.commit()
    for (table,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%'"
    ).fetchall():
        rebuild = f'INSERT INTO "{table}"("{table}") VALUES (\'rebuild\')'  # noqa: S608
        db.execute(rebuild)
    for _, sql in triggers:
        db.execute(sql)
    db.commit()

    figures = _figures(db, texts, threads, reads, time.monotonic() - started)
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    return figures


def _figures(db, texts: _Texts, threads, reads, seconds: float) -> dict:
    """What the data set holds, for the report."""
    n = len(threads)
    matches = {}
    for key, (query, _) in SEARCHES.items():
        fts = " AND ".join(f'"{w}"*' for w in query.split())
        matches[key] = {
            "messages": db.execute(
                "SELECT count(*) FROM chat_message_search WHERE "
                "chat_message_search MATCH ?",
                [fts],
            ).fetchone()[0],
            "names": db.execute(
                "SELECT count(*) FROM chat_user_search WHERE chat_user_search MATCH ?",
                [fts],
            ).fetchone()[0],
        }
    notes = db.execute("SELECT count(*) FROM chat_message WHERE note").fetchone()[0]
    rare = SEARCHES["q_rare"][0]
    return {
        "built_s": round(seconds, 1),
        "messages": MESSAGES,
        "threads": n,
        "notes": notes,
        "resolved": sum(t[2] == "resolved" for t in threads) / n,
        "unassigned": sum(t[3] is None for t in threads) / n,
        "needs_reply": sum(t[4] is not None for t in threads) / n,
        "open_needs_reply": sum(t[4] is not None and t[2] == "open" for t in threads)
        / n,
        "read_marks": len(reads),
        "vocabulary": len(texts.vocab),
        "rank_of": {
            w: texts.rank(w) for w in ("pedido", "factura", "envío", "josé", rare)
        },
        "search_matches": matches,
    }


def write_figures(path: Path, figures: dict) -> None:
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False))


def read_figures(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
