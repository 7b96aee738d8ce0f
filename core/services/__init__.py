"""Business logic shared by the blueprints. Views call these; only services commit."""
