"""The episode runtime and everything that plays a task: user simulators, tool backends, reference policies.

Inside: `runtime` (agent ↔ user ↔ tools → Trajectory; `run_episode`, `run_episode_sync`), `interfaces` (the
typing Protocols every simulator and policy implements), `kinds` (the world-kind registry: which tools, user
and replay each `Task.world` kind gets), `users/` (scripted, LLM), `tools/` (executable, LLM mock with the
shared mapping M), `reference` (oracle, eager, silent, random), `tool_protocol` (the ask_user tool-only
conversation form TRL needs), `metrics` (simulator quality).

Entry point: `run_episode(task, policy, RoutedUsers(), RoutedTools())`.
May import: spec, llm, worlds.
"""
