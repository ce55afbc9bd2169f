"""The voice pipeline: audio, VAD and turn-taking, providers, transports (issue #3)."""
