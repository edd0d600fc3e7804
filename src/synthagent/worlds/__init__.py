"""worlds stage."""
