"""Settings readers: strict about typos, lenient about unset and empty."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from chatproject.env import env_bool, env_int, env_list


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("On", True), ("no", False)])
def test_boolean_spellings_are_understood(monkeypatch, raw, value):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", default=not value) is value


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_an_unset_or_empty_boolean_takes_the_default(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv("FLAG", raising=False)
    else:
        monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", default=True) is True


def test_a_misspelt_boolean_stops_start_up(monkeypatch):
    monkeypatch.setenv("FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG", default=False)


def test_integers_are_checked(monkeypatch):
    monkeypatch.setenv("N", "abc")
    with pytest.raises(ImproperlyConfigured, match="N must be an integer"):
        env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("N", 1, minimum=1)


def test_lists_drop_blanks(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example, ,b.example ")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]
