"""The language a socket's error texts are written in, chosen as pages choose theirs."""

from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header


def _header(scope, name: bytes) -> str:
    values = [v for k, v in scope.get("headers", ()) if k == name]
    return "; ".join(value.decode("latin-1") for value in values)


def scope_language(scope) -> str:
    """The switcher's cookie, else the browser's Accept-Language, else the default.

    The same order as Django's LocaleMiddleware, so a page and its socket
    always speak the same language.
    """
    chosen = parse_cookie(_header(scope, b"cookie")).get(settings.LANGUAGE_COOKIE_NAME)
    accepted = [
        code for code, _ in parse_accept_lang_header(_header(scope, b"accept-language"))
    ]
    for candidate in [chosen, *accepted]:
        if not candidate or candidate == "*":
            continue
        try:
            return translation.get_supported_language_variant(candidate)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE
