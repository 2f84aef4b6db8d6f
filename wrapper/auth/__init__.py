"""Authentication and authorization: who is asking, and what they may see.

`wrapper/config/auth.py` parses the `auth:` section; `tokens` validates bearer JWTs with keys
from `jwks` (a JWKS URL, a key file or the built-in server's own keys);
`apikeys` checks API keys (clients, API keys and signing keys are kept in the
wrapper's own database, `wrapper/state/`); `server` is the built-in OAuth 2.0
authorization server; `policy` turns a caller into an `Access`; `guard` wires
them into each request.
"""
