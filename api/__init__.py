"""The thin HTTP layer: validate, call a service, map the result to HTTP."""
