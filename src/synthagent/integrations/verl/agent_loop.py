"""The verl agent loop: `SynthAgentLoop`, registered as "synthagent_agent" (needs verl ≥ 0.5, in its own
environment with a GPU rollout engine).

verl instantiates one loop per sample and awaits `run(sampling_params, **row)`; the row is the dataset row
of `synthagent export --format verl` (`raw_prompt` needs `data.return_raw_chat=True`). The loop rebuilds
the Task from `extra_info.task`, plays it with `episode.run_episode_tokens` — generation through verl's
server manager, tool calls to our tool backend, plain text to our user simulator — and returns the token
sequence with its mask, the rubric reward as `reward_score` (when `score_in_loop`, the default), and the
recorded episode in `extra_fields` for the reward function (`reward.compute_score`) either way.

Simulators: tasks with an executable world (procedural ones) use the scripted user and executable tools.
For LLM-simulated tasks set SYNTHAGENT_VERL_BACKENDS="package.module:function", a function that takes
the Task and returns (user_simulator, tool_backend) implementing `synthagent.sim.interfaces`.
"""

from __future__ import annotations

import importlib
import os
from typing import Any
from uuid import uuid4

from synthagent.integrations.verl.episode import run_episode_tokens, task_from_extra_info, trajectory_field
from synthagent.sim.kinds import Simulators, world_kind
from synthagent.spec.models import Task
from synthagent.worlds import derive_seed

try:
    from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopOutput, register
except ImportError as err:  # pragma: no cover - exercised only where verl is missing
    raise ImportError("synthagent.integrations.verl.agent_loop needs verl (pip install verl, in an environment "
                      "with vLLM or SGLang); the rest of synthagent.integrations.verl works without it") from err

AGENT_NAME = "synthagent_agent"


def backends_for(task: Task) -> tuple[Any, Any]:
    spec = os.environ.get("SYNTHAGENT_VERL_BACKENDS")
    if spec:
        module, _, name = spec.partition(":")
        return getattr(importlib.import_module(module), name)(task)
    kind = world_kind(task)
    if kind.needs_model:
        raise RuntimeError(f"task {task.id} is a {kind.name} world, simulated by a model; set "
                           "SYNTHAGENT_VERL_BACKENDS to a function returning (user simulator, tool backend)")
    sims = Simulators()
    return kind.user(sims), kind.tools(sims)


@register(AGENT_NAME)
class SynthAgentLoop(AgentLoopBase):
    score_in_loop = True

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        rollout = self.config.actor_rollout_ref.rollout
        multi_turn = rollout.get("multi_turn", {}) or {}
        max_turns = int(multi_turn.get("max_assistant_turns") or 16)
        extra = dict(kwargs.get("extra_info") or {})
        task = task_from_extra_info(extra)
        user, tools = backends_for(task)
        request_id = uuid4().hex

        async def generate(prompt_ids: list[int]) -> Any:
            return await self.server_manager.generate(request_id=request_id, prompt_ids=prompt_ids,
                                                      sampling_params=sampling_params)

        seed = derive_seed(task.id, extra.get("index", 0), request_id)
        episode = await run_episode_tokens(task, list(kwargs["raw_prompt"]), self.tokenizer, generate, user, tools,
                                           seed=seed, max_turns=max_turns, max_response_tokens=int(rollout.response_length),
                                           score=self.score_in_loop)
        assert episode.trajectory is not None
        return AgentLoopOutput(prompt_ids=episode.prompt_ids, response_ids=episode.response_ids,
                               response_mask=episode.response_mask, response_logprobs=episode.response_logprobs,
                               reward_score=episode.reward, num_turns=2 * episode.num_turns + 1, metrics={},
                               extra_fields=trajectory_field(episode.trajectory))
