"""Development-only tools (``make run``, ``make migrate`` …): never copied into the Docker image."""
