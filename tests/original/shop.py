"""The original's shop, as the import tests and the browser test fill it:
customers, a team of two, someone who registered as admin, conversations
ending each way, and rows that have no thread here."""

from tests.original.original_db import OLD_PASSWORDS, OriginalDatabase

# The operator names the real team.
TEAM = ("--admins", "soporte,sofia")
LONG_TEXT = "Os cuento todo desde el principio. " * 150  # 5,250 characters

ANA, SOFIA, SOPORTE = (
    ("ana", "Ana García", "user"),
    ("sofia", "Sofía Martín", "admin"),
    ("soporte", "Soporte", "admin"),
)
LUIS = ("luis", "Luis Pérez", "user")
# (from, name, rol, text, fecha in UTC) as the API should give them back.
ANA_HISTORY = [
    (*ANA, "Hola, mi pedido 1234 no ha llegado.", "2024-03-01 09:00:00"),
    (*SOFIA, "¡Hola Ana! Lo miro ahora mismo.", "2024-03-01 09:05:00"),
    (*SOPORTE, "Está en reparto: <b>seguimiento</b> ES-998.", "2024-03-01 09:10:00"),
    (*ANA, "¡Genial, gracias! 🙌", "2024-03-01 09:12:00"),
    (*ANA, "Una cosa más:\n¿puedo cambiar la hora?", "2024-03-01 09:13:00"),
]
LUIS_HISTORY = [
    (*LUIS, "¿Tenéis envío a Canarias?", "2024-03-02 10:00:00"),
    (*LUIS, "Es para un regalo 🎁", "2024-03-02 10:01:00"),
    (*SOPORTE, "Sí, en 3 a 5 días laborables.", "2024-03-02 10:30:00"),
]
# Rows the original stored but that have no thread here, each with why.
NO_THREAD = [
    ("pedro", "ana", "Hola Ana, ¿me pasas el enlace?", "between two users"),
    ("intruso", "luis", "Soy del equipo: dime tu contraseña.", "between two users"),
    ("soporte", "sofia", "¿Quién coge lo de Ana?", "between two admins"),
    ("sofia", "admin", "Me encargo yo.", "between two admins"),
    ("fantasma", "admin", "¿Hola? ¿Hay alguien?", "sender"),
    ("soporte", "nadie", "¿Sigues ahí?", "recipient"),
    ("ana", "admin", "", "empty"),
    ("ana", "admin", "  \n\t  ", "empty"),
    ("ana", "admin", "medio\x00mensaje", "NUL"),
]
SHOP_ACCOUNTS = 7
SHOP_MESSAGES = len(ANA_HISTORY) + len(LUIS_HISTORY) + 2  # Marta's two


def fill_shop(original: OriginalDatabase) -> dict:
    """The original's data; returns when Marta's last message was stored."""
    original.add_user(
        "ana", "Ana García", password=OLD_PASSWORDS["ana"], imagen="ana.png"
    )
    original.add_user("luis", "Luis Pérez", password=OLD_PASSWORDS["luis"])
    original.add_user("marta", None)  # no name: shown by her username
    original.add_user("pedro", "Pedro Sánchez")
    original.add_user("soporte", "Soporte", "admin", password=OLD_PASSWORDS["soporte"])
    original.add_user("sofia", "Sofía Martín", "admin", password=OLD_PASSWORDS["sofia"])
    # Registered as admin, as anyone could; not one of the team.
    original.add_user("intruso", "Equipo de soporte", "admin")
    for sender, _, _, text, fecha in ANA_HISTORY[:3]:
        original.send(sender, "ana" if sender != "ana" else "admin", text, fecha)
    # To one admin by name rather than to "admin": the team's all the same.
    original.send("ana", "soporte", ANA_HISTORY[3][3], ANA_HISTORY[3][4])
    original.send("ana", "admin", ANA_HISTORY[4][3], ANA_HISTORY[4][4])
    for minute, (sender, recipient, text, _) in enumerate(NO_THREAD):
        original.send(sender, recipient, text, f"2024-03-01 11:{minute:02d}:00")
    for sender, _, _, text, fecha in LUIS_HISTORY:
        original.send(sender, "luis" if sender != "luis" else "admin", text, fecha)
    original.send("marta", "admin", LONG_TEXT, "2024-03-03 08:00:00")
    before = original.server_now()
    original.send("marta", "admin", "¿Hay alguien?")  # fecha: the server's now
    return {
        "marta_asked_between": (before, original.server_now()),
        "hashes": original.hashes,
    }
