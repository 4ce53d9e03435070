import re

import pytest

from chat.groups import MAX_GROUP_NAME_CHARS, user_group

VALID_GROUP = re.compile(r"^[a-zA-Z0-9\-_.]+$")

NAMES = [
    "ana",
    "ana.maria+test@example.com",
    "ANA",
    "a_40",
    "a@",
    "josé",
    "名前",
    "x" * 150,
    "x" * 149 + "y",
    "@" * 150,
    "_h" + "a" * 64,
]


@pytest.mark.parametrize("username", NAMES)
def test_every_username_gives_a_valid_channels_group_name(username):
    name = user_group(username)
    assert VALID_GROUP.fullmatch(name)
    assert len(name) <= MAX_GROUP_NAME_CHARS
    assert name.startswith("user_")


def test_different_usernames_never_share_a_group():
    names = [*NAMES, "a_5f40", "a_40x", "A@", "a.b", "a-b", "a+b", "a b"]
    groups = [user_group(n) for n in names]
    assert len(set(groups)) == len(set(names))


def test_an_escape_sequence_in_a_name_does_not_collide_with_the_character_it_encodes():
    assert user_group("a@b") != user_group("a_40b")


def test_short_names_stay_readable():
    assert user_group("ana.maria") == "user_ana.maria"
