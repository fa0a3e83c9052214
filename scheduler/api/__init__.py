"""The REST API: ``scheduler.api.app.create_app`` builds it from its collaborators;
``scheduler.api.server.ApiServer`` serves it. Nothing is imported here, so the light modules
(metrics, collaborators) load without FastAPI."""
