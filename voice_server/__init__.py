"""Parley's voice server: the app factory, settings, database, audio pipeline and transports."""

__version__ = "0.1.0"
