"""Channel-layer group names for users: one helper, injective, always valid.

Channels accepts only ASCII letters, digits, ``-``, ``_`` and ``.`` in group
names, shorter than 100 characters; Django usernames may hold ``@`` and ``+``,
any Unicode letter, and 150 characters.
"""

import functools
import hashlib
import string

ADMINS_GROUP = "admins"
USER_GROUP_PREFIX = "user_"
MAX_GROUP_NAME_CHARS = 99

_KEPT_BYTES = frozenset((string.ascii_letters + string.digits + ".-").encode())


def _escape(username: str) -> str:
    # Every byte outside [A-Za-z0-9.-] becomes "_" + two lowercase hex
    # digits ("_" itself included), so the encoding is reversible and two
    # usernames never share a name.
    return "".join(
        chr(byte) if byte in _KEPT_BYTES else f"_{byte:02x}"
        for byte in username.encode("utf-8")
    )


# Every message is published to its thread's group: the name is worked out
# once per user, not once per message.
@functools.lru_cache(maxsize=4096)
def user_group(username: str) -> str:
    """The group every socket of ``username`` joins: ``user_<encoded name>``.

    Names too long once escaped use ``user__h<sha256>``; an escape is always
    followed by hex digits, never ``h``, so the two forms cannot collide.
    """
    name = USER_GROUP_PREFIX + _escape(username)
    if len(name) <= MAX_GROUP_NAME_CHARS:
        return name
    digest = hashlib.sha256(username.encode("utf-8")).hexdigest()
    return f"{USER_GROUP_PREFIX}_h{digest}"
