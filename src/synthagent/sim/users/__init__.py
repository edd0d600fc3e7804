"""sim/users stage."""
