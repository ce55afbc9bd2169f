"""The owners' console at /console: server-rendered pages (Jinja + HTMX) over the same services
as the JSON API. A session cookie (not a bearer token) carries the log-in; every form carries a
CSRF token; every page sets a nonce-based Content-Security-Policy."""
