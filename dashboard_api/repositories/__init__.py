"""SQL of dashboard_api, one module per aggregate.

Every query is scoped by tenant_id, except the look-ups that find the tenant in the first
place (a key by its prefix, a user by email at log-in).
"""
