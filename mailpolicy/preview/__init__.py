"""The local preview server: every message of a policy in the browser, and why each address is there.

`mailpolicy preview` runs it. The web stack (Starlette, uvicorn, watchfiles) is the optional
`preview` extra and is imported only by `app` and `server`, never by this package's `__init__`,
so the other commands do not pay for it.
"""
