"""Who may do what: web users, API tokens, roles and store scope."""
