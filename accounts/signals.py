"""Signals other apps listen to, so accounts need not know about sockets."""

from django.dispatch import Signal

# Sent when tokens stop being valid: one token (``token_id``) or every token
# of ``user`` issued before ``issued_before`` (a Unix timestamp). The chat
# app closes the matching live sockets.
sessions_ended = Signal()
