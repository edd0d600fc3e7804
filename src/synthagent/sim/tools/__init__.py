"""sim/tools stage."""
