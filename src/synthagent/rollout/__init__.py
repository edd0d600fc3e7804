"""rollout stage."""
