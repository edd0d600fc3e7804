"""Tool backends: executable (procedural database) and, later, LLM mocks with the mapping M."""
