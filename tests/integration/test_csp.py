"""The Content-Security-Policy on HTML pages, and templates that need no exception."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from chatproject.csp import HEADER, POLICY

TEMPLATES = Path(settings.BASE_DIR) / "templates"


@pytest.mark.parametrize("path", ["/", "/login", "/register"])
def test_html_pages_carry_the_policy(db, client, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response[HEADER] == POLICY


def test_the_chat_page_carries_the_policy(client_for, user):
    response = client_for(user).get("/support")

    assert response[HEADER] == POLICY


def test_the_policy_allows_no_inline_script_and_no_other_origin():
    directives = dict(d.split(" ", 1) for d in POLICY.split("; "))

    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in POLICY


# The history endpoints read on the chat's database thread: committed users only.
@pytest.mark.django_db(transaction=True)
def test_json_answers_carry_no_policy(client_for, user):
    response = client_for(user).get("/api/messages/mine")

    assert response.status_code == 200
    assert HEADER not in response


def test_the_javascript_catalog_is_served_in_the_pages_language(db, client):
    response = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 200
    assert "Reconectando" in response.content.decode()


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name
)
def test_templates_have_no_inline_script_nor_event_handler_attributes(template):
    """Under the policy neither would run; a page must not depend on one.

    Emails (templates under an ``email`` folder) are no pages: mail clients
    drop style sheets, so they carry inline styles, and still no script."""
    source = template.read_text()

    for tag in re.findall(r"<script\b[^>]*>", source):
        assert " src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", source)
    if "email" not in template.relative_to(TEMPLATES).parts:
        assert not re.search(r"\sstyle\s*=", source)
