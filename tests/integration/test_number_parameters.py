"""Query parameters that are numbers accept ASCII digits only (PROTOCOL.md 2).

``str.isdigit()`` is true for "²", "①" and Arabic-Indic digits, which
``int()`` then refuses or reads: each must be a 400, never a 500.
"""

import pytest

from tests.integration.http_helpers import assert_error

# The history views read on the database thread's own connection: the test's
# rows must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)

NOT_ASCII_DIGITS = ["²", "①", "١٢", "٣", "１２", "1²"]
ENDPOINTS = [
    ("/api/messages/mine", "user", ("before", "after", "limit")),
    ("/api/messages?with=ana", "admin", ("before", "after", "limit")),
    ("/api/conversations", "admin", ("before", "limit")),
]
CASES = [
    (path, who, name, value)
    for path, who, names in ENDPOINTS
    for name in names
    for value in NOT_ASCII_DIGITS
]


@pytest.mark.parametrize(("path", "who", "name", "value"), CASES)
def test_a_number_parameter_with_non_ascii_digits_is_400_invalid_parameter(
    client_for, user, admin_user, path, who, name, value
):
    client = client_for(user if who == "user" else admin_user)
    separator = "&" if "?" in path else "?"

    response = client.get(f"{path}{separator}{name}={value}")

    assert_error(response, 400, "invalid_parameter")


@pytest.mark.parametrize(("path", "who", "names"), ENDPOINTS)
def test_ascii_digits_are_still_accepted(
    client_for, user, admin_user, path, who, names
):
    client = client_for(user if who == "user" else admin_user)
    separator = "&" if "?" in path else "?"
    query = "&".join(f"{name}=12" for name in names)

    assert client.get(f"{path}{separator}{query}").status_code == 200
