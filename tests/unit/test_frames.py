"""Parsing client frames: each malformed frame has its own error code."""

import pytest

from chat import frames
from chat.frames import ChatError


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_frame"),
        ('"send"', "bad_frame"),
        ('{"type": "dance"}', "bad_frame"),
        ("{}", "bad_frame"),
        ("[" * 100_000, "bad_json"),
    ],
)
def test_malformed_frames_are_refused_with_their_code(text, code):
    with pytest.raises(ChatError) as refused:
        frames.parse(text)
    assert refused.value.code == code


def test_a_send_frame_parses():
    assert frames.parse('{"type":"send","text":"hola"}')["text"] == "hola"


@pytest.mark.parametrize("value", [-1, 1.5, "3", True, None])
def test_ids_must_be_non_negative_integers(value):
    with pytest.raises(ChatError):
        frames.require_id({"after": value}, "after")


def test_frame_size_is_measured_in_utf8_bytes():
    assert not frames.frame_too_large("x" * frames.MAX_FRAME_BYTES)
    assert frames.frame_too_large("x" * (frames.MAX_FRAME_BYTES + 1))
    # 3 bytes each in UTF-8: under the limit in characters, over it in bytes.
    assert frames.frame_too_large("€" * 30_000)


def test_the_closing_frame_carries_code_and_reason():
    assert frames.closing_frame(4009) == (
        '{"type":"closing","code":4009,"reason":"frame too large"}'
    )


@pytest.mark.parametrize(
    ("headers", "language"),
    [
        ([], "en"),
        ([(b"accept-language", b"es-ES,es;q=0.9,en;q=0.5")], "es"),
        ([(b"accept-language", b"fr-FR,fr;q=0.9")], "en"),
        ([(b"accept-language", b"es"), (b"cookie", b"django_language=en")], "en"),
        ([(b"cookie", b"django_language=es; token=x")], "es"),
        ([(b"accept-language", b"\xff\xfe;q=x")], "en"),
    ],
)
def test_a_socket_speaks_the_language_its_page_would(headers, language):
    from chat.language import scope_language

    assert scope_language({"headers": headers}) == language
