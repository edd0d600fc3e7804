"""Tool backends: executable (a procedural database), LLM mocks with the shared mapping M, argument validation."""
