"""The web console: server-rendered pages for hub staff, advisors, auditors and agencies.

It runs inside the API process (``sharehub api``), at ``/``, in the GOV.UK Design
System's look, and calls exactly what the HTTP API calls — the same records, the
same share-request service, the same input models and the same permissions table —
so a person in a browser meets the same rules as a client of ``/v1``. Every action
is a plain HTML form post (POST, redirect, GET); htmx only keeps the queue fresh.

    mount        mount_console(app): routes, assets
    routing      ConsoleRoute: every failure answered as a page
    sessions     sign-in with an API key, the signed session cookie, CSRF tokens
    templates    the Jinja environment (GOV.UK Frontend macros) and page rendering
    labels       codes as people read them
    forms        posted forms to the workflow's own input models, errors per field
    queue, hub, advice, audit, agency   the pages, one area each
"""
