"""The HTTP API: the app factory (api.app.create_app), routes per concern, schemas and the mapping of errors to statuses."""
