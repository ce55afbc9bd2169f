"""The browser-facing web: the widget's script, the bot's public config, and the demo page.

Part of the composition root (like ``voice_server.app``): the demo seeder uses the accounts and
knowledge packages' services to create its tenant, so this package is never imported by them.
"""
