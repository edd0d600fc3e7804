"""Procedural domains as data: one module per domain, each defining DOMAIN."""
