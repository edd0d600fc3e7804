"""Running policies over task sets: policy construction, the resumable async runner, pass@k metrics.

Inside: `policies` (`build_policy` from a `--policy` string, `build_simulators` / `build_backends` from an LLM
config: the one place a config becomes the user, tool and judge roles), `openai_policy` and `hf_policy`
(model-backed policies), `runner` (resumable, concurrent rollouts to JSONL), `metrics` (pass@k, pass^k).

Entry point: `rollout.runner`, driven by `synthagent rollout`.
May import: spec, llm, worlds, sim, reward.
"""
