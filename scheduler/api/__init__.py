"""The REST API: ``create_app`` builds it from its collaborators; ``ApiServer`` serves it."""

from scheduler.api.app import create_app

__all__ = ["create_app"]
