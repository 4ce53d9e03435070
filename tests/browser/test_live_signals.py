"""Live signals in the browser (issue 14): the team's presence in the customer's
header and the team strip, typing both ways, and "Seen"."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role, User
from chat.models import ReadState
from chat.services import message_store
from tests.browser.chat_page import (
    connection,
    conversation,
    expect_connected,
    expect_stored,
    open_support,
    stored_messages,
    write,
)
from tests.browser.live_page import (
    RECORD_FRAMES,
    availability,
    frames_of,
    seen_labels,
    team_member,
    typing_line,
    typing_when_shown,
    watch_typing_as,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Hola, mi pedido 1234 no ha llegado."
REPLY = "¡Hola Ana! Lo miro ahora mismo."
ONLINE = "Support is online"
AWAY = "We're away — leave a message and we'll answer here"
OFFLINE = "We're offline — leave a message and we'll answer here"


@pytest.fixture
def people(make_user) -> dict:
    return {
        "ana": make_user("ana", name="Ana García"),
        "sofia": make_user("sofia", role=Role.ADMIN, name="Sofía Martín"),
        "luis": make_user("luis", role=Role.ADMIN, name="Luis Gómez"),
    }


@pytest.fixture
def own_server(start_server):
    """A daphne of the test's own for presence: a shared one remembers the
    team's roster for up to a minute (chat.presence), past the accounts of
    earlier tests, and may not know of admins made just now."""
    return start_server()


def recorded(open_context, user):
    """A context whose pages keep a record of their socket's frames."""
    context = open_context(user=user)
    context.add_init_script(RECORD_FRAMES)
    return context


# Presence ----------------------------------------------------------------------


def test_the_customer_header_follows_the_team_online_away_and_gone(
    people, open_context, own_server
):
    customer = open_support(open_context(server=own_server, user=people["ana"]))
    header = connection(customer)
    expect(header).to_have_attribute("data-team", "offline")
    expect(header).to_have_text(OFFLINE)

    admin = open_support(open_context(server=own_server, user=people["sofia"]))
    expect(header).to_have_attribute("data-team", "online")
    expect(header).to_have_text(ONLINE)
    expect(header).to_have_attribute("data-state", "connected")
    expect(admin.get_by_label("Your status")).to_have_value("online")

    availability(admin).select_option("away")
    expect(header).to_have_attribute("data-team", "away")
    expect(header).to_have_text(AWAY)

    # Kept by the server: the admin's page comes back Away after a reload.
    admin.reload()
    expect_connected(admin)
    expect(availability(admin)).to_have_value("away")
    expect(header).to_have_attribute("data-team", "away")
    assert User.objects.get(username="sofia").availability == "away"

    availability(admin).select_option("online")
    expect(header).to_have_text(ONLINE)

    admin.close()
    expect(header).to_have_attribute("data-team", "offline")
    expect(header).to_have_text(OFFLINE)
    # The customer's own socket never dropped meanwhile.
    expect(header).to_have_attribute("data-state", "connected")


def test_an_admin_sees_a_colleague_arrive_step_away_and_leave(
    people, open_context, own_server
):
    sofia = open_support(open_context(server=own_server, user=people["sofia"]))
    luis_there = team_member(sofia, "luis")
    expect(luis_there).to_have_attribute("data-status", "offline")
    expect(luis_there).to_contain_text("Luis Gómez")
    # Her own state is in her control, not in the list.
    expect(team_member(sofia, "sofia")).to_have_count(0)

    luis_page = open_support(open_context(server=own_server, user=people["luis"]))
    expect(luis_there).to_have_attribute("data-status", "online")
    expect(team_member(luis_page, "sofia")).to_have_attribute("data-status", "online")

    availability(luis_page).select_option("away")
    expect(luis_there).to_have_attribute("data-status", "away")
    expect(luis_there).to_have_attribute("title", "Luis Gómez: Away")

    luis_page.close()
    expect(luis_there).to_have_attribute("data-status", "offline")


# Typing ------------------------------------------------------------------------


def test_a_customer_typing_shows_to_the_agent_until_the_message_lands(
    people, open_context
):
    message_store(sender=people["ana"], text=QUESTION)
    admin = open_support(open_context(user=people["sofia"]), "?with=ana")
    expect_stored(admin, QUESTION)
    customer = open_support(recorded(open_context, people["ana"]))

    customer.locator("#composer-text").press_sequentially("Otra cosa", delay=40)

    expect(typing_line(admin)).to_be_visible()
    expect(typing_line(admin)).to_have_text("Ana García is typing…")
    expect(conversation(admin, "ana")).to_have_attribute("data-typing", "typing…")

    text = "Otra cosa: ¿hacéis envíos a Canarias?"
    watch_typing_as(admin, text)
    write(customer, text)
    expect_stored(admin, text)
    # Gone with the message itself, not 6 s later.
    assert typing_when_shown(admin) == "hidden"
    expect(conversation(admin, "ana")).not_to_have_attribute("data-typing", "typing…")
    # The customer's own page never heard of its own typing.
    assert frames_of(customer, "typing") == []
    said = frames_of(customer, "typing", "__sent")
    assert said and all(frame == {"type": "typing"} for frame in said), said


def test_typing_is_forgotten_six_seconds_after_the_last_key(people, open_context):
    admin = open_support(open_context(user=people["sofia"]), "?with=ana")
    admin.evaluate(
        """() => {
          window.__typingShown = [];
          const line = document.getElementById("typing");
          const note = () =>
            window.__typingShown.push([line.hidden, performance.now()]);
          new MutationObserver(note).observe(line, { attributeFilter: ["hidden"] });
        }"""
    )
    customer = open_support(open_context(user=people["ana"]))

    customer.locator("#composer-text").press_sequentially("Hola", delay=20)

    expect(typing_line(admin)).to_be_visible()
    expect(typing_line(admin)).to_be_hidden(timeout=12_000)
    (shown, shown_at), (hidden, hidden_at) = admin.evaluate("window.__typingShown")[:2]
    assert (shown, hidden) == (False, True)
    # One frame for four quick keys: shown 6 s (timers may run late, not early).
    assert 5_900 <= hidden_at - shown_at < 10_000


def test_an_agent_typing_reaches_the_customer_and_a_note_only_the_team(
    people, open_context
):
    message_store(sender=people["ana"], text=QUESTION)
    customer = open_support(recorded(open_context, people["ana"]))
    sofia = open_support(open_context(user=people["sofia"]), "?with=ana")
    luis = open_support(recorded(open_context, people["luis"]), "?with=ana")
    composer = luis.locator("#composer-text")

    composer.press("Control+Alt+n")
    composer.press_sequentially("Ojo: cliente VIP", delay=30)

    expect(typing_line(sofia)).to_have_text("Luis Gómez is writing a note…")
    assert frames_of(luis, "typing", "__sent")[0] == {
        "type": "typing",
        "thread": "ana",
        "note": True,
    }

    luis.get_by_role("radio", name="Reply").check()
    composer.fill("")
    composer.press_sequentially("Hola Ana", delay=30)

    expect(typing_line(customer)).to_have_text("Luis Gómez is typing…")
    expect(typing_line(sofia)).to_have_text("Luis Gómez is typing…")
    # The reply's typing came; the note's never did, though it went first.
    heard = frames_of(customer, "typing")
    assert heard and all(frame["note"] is False for frame in heard), heard
    assert {frame["user"] for frame in heard} == {"luis"}
    assert frames_of(luis, "typing") == []

    watch_typing_as(customer, REPLY)
    composer.fill(REPLY)
    composer.press("Enter")
    expect_stored(customer, REPLY)
    assert typing_when_shown(customer) == "hidden"
    expect(typing_line(sofia)).to_be_hidden()


def test_typing_goes_out_at_most_every_two_seconds(people, open_context):
    customer = open_support(recorded(open_context, people["ana"]))
    started = customer.evaluate("performance.now()")

    customer.locator("#composer-text").press_sequentially("x" * 24, delay=150)

    elapsed = customer.evaluate("performance.now()") - started
    sent = len(frames_of(customer, "typing", "__sent"))
    assert 1 <= sent <= int(elapsed // 2000) + 1, (sent, elapsed)


# Seen --------------------------------------------------------------------------


def test_seen_shows_when_the_agent_opens_the_thread_and_the_customer_reads(
    people, open_context
):
    customer = open_support(open_context(user=people["ana"]))
    write(customer, QUESTION)
    question = expect_stored(customer, QUESTION)
    admin = open_support(open_context(user=people["sofia"]))
    expect(conversation(admin, "ana")).to_be_visible()
    expect(seen_labels(customer)).to_have_count(0)

    conversation(admin, "ana").click()

    expect(question.locator(".msg__seen")).to_have_text("Seen")
    write(admin, REPLY)
    reply = expect_stored(admin, REPLY)
    # The customer's page is in sight: it reads the reply, the agent sees so.
    expect(reply.locator(".msg__seen")).to_have_text("Seen")
    expect(seen_labels(admin)).to_have_count(1)

    # "Seen" moves on to the newest message read, and only ever forward.
    write(customer, "¡Gracias!")
    thanks = expect_stored(customer, "¡Gracias!")
    expect(thanks.locator(".msg__seen")).to_have_text("Seen")
    expect(seen_labels(customer)).to_have_count(1)

    # From the history on load, on both sides.
    customer.reload()
    expect_connected(customer)
    expect(stored_messages(customer, "¡Gracias!").locator(".msg__seen")).to_be_visible()
    admin.reload()
    expect_connected(admin)
    expect(stored_messages(admin, REPLY).locator(".msg__seen")).to_have_text("Seen")
    marks = dict(
        ReadState.objects.filter(thread__username="ana").values_list(
            "reader__username", "last_read_id"
        )
    )
    assert set(marks) == {"ana", "sofia"}
