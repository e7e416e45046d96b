"""The HTTP layer: the server, the routes, the guards, and the statuses the sender gets."""
