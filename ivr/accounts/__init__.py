"""People and machines that use ivr: users, roles, API tokens and agents."""
