"""The verl agent loop: `SynthAgentLoop`, registered as "synthagent_agent" (verl ≥ 0.9's agent-loop API).

verl instantiates one loop per sample in each AgentLoopWorker and awaits `run(sampling_params, **row)`;
the row is one of `synthagent export --format verl` (`raw_prompt` needs `data.return_raw_chat=True`). The
loop rebuilds the Task from `extra_info.task` and plays it with `episode.run_episode_tokens`: generation
through verl's server manager, tool calls to the task's tool backend, plain text to its user simulator.

Simulators and judge come from the world-kind registry and one LLM config, like every other runner
(`settings.py` says where each setting lives): procedural, τ² and reasoning tasks are played by their
own tools and scripted users; simulated tasks (teacher-made or imported from the authors' release) by the
LLM user and the LLM mock tools, whose mapping M is shared by every rollout of a task across workers
through the file store under `mock_store`; rubric items without a programmatic check go to the LLM judge,
behind its own concurrency limit and deadline.

Output: the token sequence with its mask; `reward_score` = the rubric reward (scored in the loop, so
verl skips its reward function); and in `extra_fields` the recorded episode (for `reward.compute_score`)
and `reward_extra_info` = {"unscored", "fault_user", "fault_tools", "fault_judge"}, which verl carries
into the batch and its validation metrics (`val-aux/<data source>/unscored/mean`, …).

An episode whose simulator or judge failed after retries is *unscored*: never a crash and never a silent
0. The `fault_policy` decides what the trainer sees: `drop` (default) — response_mask all 0 (the sample
adds no token to the policy loss) and a placeholder reward of 0; `zero` — the authors' behaviour, the
sample trains with reward 0. Either way it is counted. Note that verl's GRPO still puts the placeholder
into its group's mean and standard deviation: `drop` removes the sample's own gradient, not its effect
on its siblings' advantages (verl has no per-sample exclusion from a group).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import uuid4

from synthagent.integrations.verl.episode import (
    DEFAULT_MAX_TOOL_RESPONSE_CHARS,
    EpisodeOutput,
    needs_judge,
    run_episode_tokens,
    task_from_extra_info,
    trajectory_field,
)
from synthagent.integrations.verl.settings import LoopResources, LoopSettings, loop_resources
from synthagent.sim.kinds import world_kind
from synthagent.spec.models import Task
from synthagent.worlds import derive_seed

try:
    from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopMetrics, AgentLoopOutput, register
except ImportError as err:  # pragma: no cover - exercised only where verl is missing
    raise ImportError("synthagent.integrations.verl.agent_loop needs verl (pip install 'synthagent[verl]', in an "
                      "environment with vLLM or SGLang for training); the rest of synthagent.integrations.verl "
                      "works without it") from err

AGENT_NAME = "synthagent_agent"
FAULT_ROLES = ("user", "tools", "judge")
logger = logging.getLogger(__name__)


def _config_get(config: Any, *path: str) -> Any:
    node = config
    for key in path:
        if node is None:
            return None
        node = node.get(key) if hasattr(node, "get") else getattr(node, key, None)
    return node


def settings_of(config: Any) -> LoopSettings:
    block = _config_get(config, "synthagent")
    if block is not None and not isinstance(block, dict):
        from omegaconf import OmegaConf

        block = OmegaConf.to_container(block, resolve=True)
    return LoopSettings.resolve(block)


def check_playable(task: Task, resources: LoopResources) -> None:
    """Fail loudly on a run that is misconfigured for this task (every sample would fail alike)."""
    kind = world_kind(task)
    if kind.needs_model and resources.settings.llm_config is None:
        raise RuntimeError(f"task {task.id} is a {kind.name} world, simulated by a model: set `synthagent.llm_config` "
                           "in the verl config (or SYNTHAGENT_LLM_CONFIG) to an LLM YAML with user, tool and judge roles")
    if needs_judge(task) and resources.judge is None:
        raise RuntimeError(f"task {task.id} has rubric items only a judge can decide: set `synthagent.llm_config` "
                           "(or SYNTHAGENT_LLM_CONFIG) to an LLM YAML with a judge role")


def extra_info_of(episode: EpisodeOutput) -> dict[str, float]:
    """Per-sample counts verl carries into the batch (the same keys for every sample, as verl requires)."""
    fault = episode.fault
    counts = {"unscored": float(fault is not None)}
    counts.update({f"fault_{role}": float(fault is not None and fault.role == role) for role in FAULT_ROLES})
    return counts


@register(AGENT_NAME)
class SynthAgentLoop(AgentLoopBase):
    score_in_loop = True

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        rollout = self.config.actor_rollout_ref.rollout
        multi_turn = _config_get(rollout, "multi_turn") or {}
        max_turns = int(_config_get(multi_turn, "max_assistant_turns") or 16)
        tool_chars = _config_get(multi_turn, "max_tool_response_length") or DEFAULT_MAX_TOOL_RESPONSE_CHARS
        resources = loop_resources(settings_of(self.config))
        extra = dict(kwargs.get("extra_info") or {})
        task = task_from_extra_info(extra)
        check_playable(task, resources)
        request_id = uuid4().hex

        async def generate(prompt_ids: list[int]) -> Any:
            return await self.server_manager.generate(request_id=request_id, prompt_ids=prompt_ids,
                                                      sampling_params=sampling_params)

        seed = derive_seed(task.id, extra.get("index", 0), request_id)
        episode = await run_episode_tokens(
            task, list(kwargs["raw_prompt"]), self.tokenizer, generate, resources.users, resources.tools, seed=seed,
            max_turns=max_turns, max_response_tokens=int(rollout.response_length), score=self.score_in_loop,
            judge=resources.judge, chat_template_kwargs=dict(self.apply_chat_template_kwargs or {}),
            max_tool_response_chars=int(tool_chars))
        assert episode.trajectory is not None
        reward, mask = self._apply_fault_policy(episode, resources)
        fields = trajectory_field(episode.trajectory) | {"reward_extra_info": extra_info_of(episode)}
        return AgentLoopOutput(prompt_ids=episode.prompt_ids, response_ids=episode.response_ids, response_mask=mask,
                               response_logprobs=episode.response_logprobs, reward_score=reward,
                               num_turns=2 * episode.num_turns + 1, metrics=AgentLoopMetrics(), extra_fields=fields)

    def _apply_fault_policy(self, episode: EpisodeOutput, resources: LoopResources) -> tuple[float | None, list[int]]:
        stats = resources.stats
        stats.episodes += 1
        fault = episode.fault
        if fault is None:
            stats.judged += int(episode.result is not None)
            return episode.reward, episode.response_mask
        stats.unscored += 1
        stats.faults[fault.role] += 1
        logger.warning("unscored episode of task %s (%s, policy %s): %s", episode.trajectory.task_id if episode.trajectory
                       else "?", fault.role, resources.settings.fault_policy, fault.message)
        if resources.settings.fault_policy == "drop":
            return 0.0, [0] * len(episode.response_mask)
        return 0.0, episode.response_mask
