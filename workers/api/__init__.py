"""The HTTP API (``sharehub api``): agencies, hub staff, advisors and auditors, under ``/v1``.

FastAPI, with OpenAPI at ``/openapi.json`` and docs at ``/docs``; every error is
RFC 9457 problem+json (:mod:`workers.api.problems`). Each client authenticates
with its API key (``Authorization: Bearer shk_…``), has one role and, for an
agency, its agency id; every route checks the role, and the services check the
scope (need-to-know, :mod:`workers.hub.records`).
"""
