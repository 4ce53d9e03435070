"""The support desk on the team's page: views, owners, notes, canned replies, search."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from chat.models import CannedReply, Message, Thread
from chat.services import message_store
from tests.browser.chat_page import (
    conversation,
    desk_banner,
    expect_connected,
    expect_stored,
    notes,
    open_support,
    search_results,
    stored_messages,
    tab,
    write,
)
from tests.browser.test_page_fixes import EFFECTIVE_COLOURS, contrast

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Hola, mi pedido 1234 no ha llegado."
NOTE = "Cliente VIP: ofrecer el envío gratis."


@pytest.fixture
def people(make_user) -> dict:
    return {
        "ana": make_user("ana", name="Ana García"),
        "sofia": make_user("sofia", role=Role.ADMIN, name="Sofía Martín"),
        "luis": make_user("luis", role=Role.ADMIN, name="Luis Gómez"),
        "carmen": make_user("carmen", role=Role.ADMIN, name="Carmen Ruiz"),
    }


def classes(*names: str) -> re.Pattern:
    """A class attribute holding every one of ``names``."""
    return re.compile("".join(rf"(?=.*\b{re.escape(n)}\b)" for n in names))


def test_a_claim_shows_live_to_the_other_agent_and_a_stale_claim_is_refused(
    people, open_context
):
    message_store(sender=people["ana"], text=QUESTION)
    sofia = open_support(open_context(user=people["sofia"]), "?with=ana")
    luis = open_support(open_context(user=people["luis"]))
    tab(luis, "Unassigned").click()
    expect(tab(luis, "Unassigned")).to_have_attribute("aria-selected", "true")
    row = conversation(luis, "ana")
    expect(row.locator(".conv__owner")).to_have_text("Unassigned")
    row.click()
    expect(luis.locator("#desk-status")).to_have_text("Open")
    expect(desk_banner(luis)).to_have_text("")

    sofia.get_by_role("button", name="Assign to me").click()

    expect(sofia.get_by_label("Assigned to")).to_have_value("sofia")
    expect(sofia.get_by_role("button", name="Assign to me")).to_be_hidden()
    expect(desk_banner(sofia)).to_have_text("")
    # Live, on the other agent's page: the banner, and the row leaves "Unassigned".
    expect(desk_banner(luis)).to_have_text(
        "Sofía Martín is handling this conversation."
    )
    expect(desk_banner(luis)).to_have_attribute("role", "status")
    expect(luis.get_by_label("Assigned to")).to_have_value("sofia")
    expect(conversation(luis, "ana")).to_have_count(0)
    expect(luis.locator("#inbox-empty")).to_have_text(
        "Every open conversation has someone handling it."
    )
    tab(sofia, "Mine").click()
    expect(conversation(sofia, "ana").locator(".conv__owner")).to_have_text(
        "Assigned to you"
    )

    # The banner stops no one: the other agent can still answer.
    write(luis, "Te atiende Sofía enseguida.")
    expect_stored(luis, "Te atiende Sofía enseguida.")

    # Someone else takes it behind the page's back (no frame): the page's
    # claim names Sofía as the owner it shows, and is refused.
    Thread.objects.filter(user=people["ana"]).update(assignee=people["carmen"])
    luis.get_by_role("button", name="Assign to me").click()

    expect(luis.locator("#desk-notice")).to_have_text(
        "Carmen Ruiz took this conversation a moment ago."
    )
    expect(desk_banner(luis)).to_have_text("Carmen Ruiz is handling this conversation.")
    expect(luis.get_by_label("Assigned to")).to_have_value("carmen")
    assert Thread.objects.get(user=people["ana"]).assignee == people["carmen"]

    # The picker hands it to anyone on the team.
    luis.get_by_label("Assigned to").select_option("luis")
    expect(desk_banner(luis)).to_have_text("")
    expect(luis.get_by_role("button", name="Assign to me")).to_be_hidden()
    expect(desk_banner(sofia)).to_have_text("Luis Gómez is handling this conversation.")
    expect(conversation(sofia, "ana")).to_have_count(0)  # no longer in her "Mine"


def test_a_note_never_reaches_the_customer(people, open_context):
    message_store(sender=people["ana"], text=QUESTION)
    customer = open_support(open_context(user=people["ana"]))
    team = open_support(open_context(user=people["sofia"]), "?with=ana")
    composer = team.locator("#composer")
    text = team.locator("#composer-text")
    expect(composer.locator(".composer__hint")).to_contain_text("Ctrl+Alt+N")

    text.press("Control+Alt+n")
    expect(composer).to_have_class(classes("composer--note"))
    expect(team.get_by_label("Internal note — only the team sees this")).to_be_focused()
    expect(team.get_by_role("radio", name="Internal note")).to_be_checked()
    expect(composer.locator(".composer__send")).to_have_text("Add note")
    write(team, NOTE)

    note = expect_stored(team, NOTE)
    expect(note).to_have_class(classes("msg--note"))
    expect(note.locator(".msg__note-label")).to_have_text("Note")
    for part in (".msg__text", ".msg__note-label", ".msg__time"):
        ink, paper = note.locator(part).evaluate(EFFECTIVE_COLOURS)
        assert contrast(ink, paper) >= 4.5, (part, ink, paper)
    assert Message.objects.get(text=NOTE).note is True

    team.get_by_role("radio", name="Reply").check()
    expect(composer).not_to_have_class(classes("composer--note"))
    expect(composer.locator(".composer__send")).to_have_text("Send")
    write(team, "¡Hola Ana! Lo miro ahora mismo.")
    expect_stored(team, "¡Hola Ana! Lo miro ahora mismo.")

    # The reply came after the note: had the note been sent, it would be here.
    expect_stored(customer, "¡Hola Ana! Lo miro ahora mismo.")
    expect(stored_messages(customer, NOTE)).to_have_count(0)
    assert NOTE not in customer.content()
    customer.reload()
    expect_connected(customer)
    expect_stored(customer, "¡Hola Ana! Lo miro ahora mismo.")
    expect(customer.locator("#messages li[data-id]")).to_have_count(2)
    assert NOTE not in customer.content()

    # The team still sees it as a note from the history.
    team.reload()
    expect_connected(team)
    expect(notes(team)).to_have_count(1)
    expect(notes(team).locator(".msg__text")).to_have_text(NOTE)
    expect(conversation(team, "ana")).to_have_count(0)  # answered: needs no reply


def test_a_resolved_conversation_the_customer_writes_in_needs_a_reply_again(
    people, open_context
):
    message_store(sender=people["ana"], text=QUESTION)
    team = open_support(open_context(user=people["sofia"]))
    expect(tab(team, "Needs reply")).to_have_attribute("aria-selected", "true")
    conversation(team, "ana").click()

    team.get_by_role("button", name="Resolve").click()

    expect(team.locator("#desk-status")).to_have_text("Resolved")
    expect(team.get_by_role("button", name="Reopen")).to_be_visible()
    expect(conversation(team, "ana")).to_have_count(0)
    expect(team.locator("#inbox-empty")).to_have_text("Nothing needs a reply.")
    tab(team, "Resolved").click()
    expect(conversation(team, "ana").locator(".tag--resolved")).to_have_text("Resolved")
    tab(team, "Needs reply").click()
    expect(conversation(team, "ana")).to_have_count(0)

    customer = open_support(open_context(user=people["ana"]))
    write(customer, "¿Me decís algo?")

    row = conversation(team, "ana")
    expect(row).to_be_visible()
    expect(row.locator(".conv__waiting")).to_have_text("waiting less than a minute")
    expect(team.locator("#desk-status")).to_have_text("Open")
    expect(team.get_by_role("button", name="Resolve")).to_be_visible()


def test_the_views_are_tabs_for_the_keyboard_oldest_wait_first(
    people, make_user, open_context
):
    for name in ("bea", "dani"):
        message_store(sender=make_user(name), text="?")
    message_store(sender=people["ana"], text=QUESTION)
    now = timezone.now()
    for user, minutes in (("ana", 95), ("bea", 5), ("dani", 30)):
        Thread.objects.filter(user__username=user).update(
            waiting_since=now - timedelta(minutes=minutes)
        )
    team = open_support(open_context(user=people["sofia"]))

    rows = team.locator("#conversations button.conv")
    expect(rows).to_have_count(3)
    assert [r.get_attribute("data-user") for r in rows.all()] == ["ana", "dani", "bea"]
    expect(conversation(team, "ana").locator(".conv__waiting")).to_have_text(
        "waiting 1 hr"
    )
    expect(conversation(team, "bea").locator(".conv__waiting")).to_have_text(
        "waiting 5 min"
    )

    tab(team, "Needs reply").focus()
    team.keyboard.press("ArrowRight")
    expect(tab(team, "Mine")).to_be_focused()
    expect(tab(team, "Mine")).to_have_attribute("aria-selected", "true")
    expect(team.locator("#inbox-empty")).to_have_text(
        "No open conversation is assigned to you."
    )
    team.keyboard.press("End")
    expect(tab(team, "All")).to_have_attribute("aria-selected", "true")
    expect(rows).to_have_count(3)
    team.keyboard.press("ArrowRight")
    expect(tab(team, "Needs reply")).to_be_focused()
    # The view is kept in the address: a reload comes back to it.
    tab(team, "Unassigned").click()
    team.reload()
    expect_connected(team)
    expect(tab(team, "Unassigned")).to_have_attribute("aria-selected", "true")


def test_a_canned_reply_goes_in_with_the_customers_name(people, open_context):
    message_store(sender=people["ana"], text=QUESTION)
    CannedReply.objects.create(shortcut="envio", text="Tu pedido sale hoy, {name}.")
    CannedReply.objects.create(shortcut="hola", text="¡Hola {name}! ¿En qué te ayudo?")
    team = open_support(open_context(user=people["sofia"]), "?with=ana")
    text = team.locator("#composer-text")
    picker = team.get_by_role("listbox", name="Canned replies")

    text.press_sequentially("/")
    expect(picker).to_be_visible()
    options = picker.get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(text).to_have_attribute("aria-activedescendant", "canned-option-0")
    text.press("ArrowDown")
    expect(text).to_have_attribute("aria-activedescendant", "canned-option-1")
    text.press("Escape")
    expect(picker).to_be_hidden()

    text.fill("")
    text.press_sequentially("/en")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Tu pedido sale hoy, Ana García.")
    text.press("Enter")
    expect(text).to_have_value("Tu pedido sale hoy, Ana García.")
    expect(picker).to_be_hidden()

    # After a space, by mouse, in place of the word only.
    text.press_sequentially(" /ho")
    options.filter(has_text="/hola").click()
    expect(text).to_have_value(
        "Tu pedido sale hoy, Ana García. ¡Hola Ana García! ¿En qué te ayudo?"
    )
    expect(text).to_be_focused()
    text.press("Enter")
    expect_stored(
        team, "Tu pedido sale hoy, Ana García. ¡Hola Ana García! ¿En qué te ayudo?"
    )
    # A slash inside a word is just a slash.
    text.press_sequentially("y/o")
    expect(picker).to_be_hidden()


def test_search_ignores_accents_and_opens_the_thread_at_the_match(people, open_context):
    found_text = "Soy José, el del pedido 1234: ¿llegará antes del viernes?"
    found = message_store(sender=people["ana"], text=found_text)
    for number in range(1, 81):
        message_store(sender=people["ana"], text=f"Mensaje {number}")
    team = open_support(open_context(user=people["sofia"]))
    search = team.get_by_role("searchbox", name="Search conversations")

    search.fill("jose")

    results = search_results(team)
    expect(results).to_have_count(1)
    expect(results.first.locator("mark")).to_have_text("José")
    expect(results.first).to_have_attribute("data-match", str(found["id"]))
    expect(team.locator("#search-status")).to_have_text("1 conversation found")
    expect(team.locator("#inbox-tabs")).to_be_hidden()
    results.first.click()

    match = team.locator(f"#messages li[data-id='{found['id']}']")
    expect(match).to_be_in_viewport()
    expect(match).to_have_class(classes("msg--found"))
    # Everything after it is there too, up to the newest, without a gap.
    expect(team.locator("#messages li[data-id]").last).to_contain_text("Mensaje 80")
    ids = team.locator("#messages li[data-id]").evaluate_all(
        "items => items.map(i => Number(i.dataset.id))"
    )
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids

    search.fill("no está en ningún sitio")
    expect(team.locator("#search-status")).to_have_text(
        "No conversation matches “no está en ningún sitio”."
    )
    search.press("Escape")
    expect(search).to_have_value("")
    expect(team.locator("#inbox-tabs")).to_be_visible()
    expect(conversation(team, "ana")).to_be_visible()
