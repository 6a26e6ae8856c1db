"""Schemathesis hooks for Gongdan's contract test: how to send a raw mail message.

`POST /api/v1/mail/inbound` takes `message/rfc822`, which schemathesis has no serializer for.
Whatever it generates is sent as bytes: real mail servers hand over arbitrary bytes too.
"""

import schemathesis


@schemathesis.serializer("message/rfc822")
def rfc822(ctx, value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value)
    return repr(value).encode("utf-8")
