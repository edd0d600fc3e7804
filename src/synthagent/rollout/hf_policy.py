"""A local transformers policy: a causal LM on this machine plays the agent (no server needed).

The conversation is rendered with the tokenizer's chat template (tools passed as `tools=`), the model
generates one assistant turn, and the text is parsed back: `<tool_call>{"name": …, "arguments": …}</tool_call>`
blocks (the Hermes / Qwen format most open chat templates use) become tool calls, `<think>…</think>` blocks
are dropped, the rest is the message text (the project's one parser of each: `llm.parsing.strip_think`,
`sim.tool_call_text.parse_tool_call_blocks`). Greedy decoding by default; with
`temperature > 0` each (task, seed, turn) gets its own torch seed, so a rerun samples the same tokens.

`protocol="ask_user"` plays a model trained in TRL's tool-only protocol (see `sim.tool_protocol`)
inside our runtime: the runtime's plain-text turns are shown to the model as `ask_user` calls and their
results, an `ask_user` call it makes goes to the user as plain text, and a message without tool calls is
its final answer (wrapped in <answer></answer> when it forgot the tags).

Tool-call arguments are handed to the template as objects (`structured_arguments`), which every common
template renders correctly (Qwen3's also accepts text; Qwen2.5's would JSON-encode text a second time).

With `constrain_calls=True` a tool call's name, argument keys and required keys are held to the schemas
shown (`rollout.schema_constraint`, what strict function calling gives a hosted model); off by default.

Needs torch and transformers (`pip install 'synthagent[train]'`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from synthagent.llm.parsing import strip_think
from synthagent.sim.tool_call_text import parse_tool_call_blocks
from synthagent.spec.models import FunctionCall, Message, Task, ToolCall
from synthagent.worlds import derive_seed

def parse_assistant(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(content, [(tool name, arguments JSON text)]) of one generated assistant turn: think blocks dropped,
    `<tool_call>` blocks parsed by the text protocol's parser (a malformed one gets an error observation)."""
    return parse_tool_call_blocks(strip_think(text))


def _structured(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("tool_calls"):
        from synthagent.sim.tool_protocol import tool_call_dict

        message["tool_calls"] = [tool_call_dict(c["function"]["name"], c["function"]["arguments"], c.get("id"),
                                                structured=True) for c in message["tool_calls"]]
    return message


class HFPolicy:
    """Build once per model; `session()` per episode. `model` is a path or a loaded PreTrainedModel."""

    def __init__(self, model: Any, tokenizer: Any = None, *, protocol: Literal["chat", "ask_user"] = "chat",
                 max_new_tokens: int = 256, temperature: float = 0.0, top_p: float = 1.0,
                 chat_template: str | None = None, structured_arguments: bool = True, device: str = "cpu",
                 name: str | None = None, constrain_calls: bool = False):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if protocol not in ("chat", "ask_user"):
            raise ValueError(f"unknown protocol {protocol!r}; use 'chat' or 'ask_user'")
        path = model if isinstance(model, (str, Path)) else None
        self.model = AutoModelForCausalLM.from_pretrained(str(path)) if path is not None else model
        self.tokenizer = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(str(path))
        self.model.to(device).eval()
        self.torch = torch
        self.protocol = protocol
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.chat_template = chat_template
        self.structured_arguments = structured_arguments
        self.device = device
        self.constrain_calls = constrain_calls
        self._constraints: dict[str, Any] = {}
        self.name = name or f"hf:{path if path is not None else type(self.model).__name__}"
        vocab = self.tokenizer.get_vocab()
        eos = [self.tokenizer.eos_token_id]
        self.stop_ids = [i for i in dict.fromkeys(eos + [vocab.get("<|im_end|>")]) if i is not None]
        self.im_start = vocab.get("<|im_start|>")

    def session(self, task: Task, seed: int) -> "_HFSession":
        return _HFSession(self, task, seed)

    # ------------------------------------------------------------------------------------ generation

    def render(self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> list[int]:
        ids = self.tokenizer.apply_chat_template(conversation, tools=tools or None, add_generation_prompt=True,
                                                 tokenize=True, chat_template=self.chat_template, return_dict=False)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return list(ids)

    def constraint(self, tools: list[dict[str, Any]]) -> Any:
        """The schema constraint of one tool list, built once per list (its token table and allowed sets are
        the costly part)."""
        import json

        from synthagent.rollout.schema_constraint import SchemaConstraint

        key = json.dumps(tools, sort_keys=True)
        if key not in self._constraints:
            self._constraints[key] = SchemaConstraint(self.tokenizer, tools)
        return self._constraints[key]

    def generate(self, prompt_ids: list[int], seed: int, tools: list[dict[str, Any]] | None = None) -> str:
        torch = self.torch
        input_ids = torch.tensor([prompt_ids], device=self.device)
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "eos_token_id": self.stop_ids,
                                  "pad_token_id": self.tokenizer.pad_token_id or self.stop_ids[0]}
        if self.constrain_calls and tools:
            from transformers import LogitsProcessorList

            from synthagent.rollout.schema_constraint import logits_processor

            # The turn starts after the prompt's last `<|im_start|>`, so a prompt that already opens the
            # turn (a prefilled `<tool_call>`) is held to the schema from where the turn began.
            opens = [i + 1 for i, token in enumerate(prompt_ids) if token == self.im_start]
            turn_start = opens[-1] if opens else len(prompt_ids)
            kwargs["logits_processor"] = LogitsProcessorList([logits_processor(self.constraint(tools), turn_start)])
        if self.temperature > 0:
            torch.manual_seed(seed % (2**31))
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            kwargs.update(do_sample=False)
        with torch.no_grad():
            out = self.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), **kwargs)
        new = out[0, len(prompt_ids):].tolist()
        while new and new[-1] in self.stop_ids:
            new.pop()
        return self.tokenizer.decode(new, skip_special_tokens=False)


class _HFSession:
    def __init__(self, policy: HFPolicy, task: Task, seed: int):
        self.policy, self.task, self.seed = policy, task, seed
        self.turn = 0

    def act(self, messages: list[Message], tools: list[dict[str, Any]]) -> Message:
        self.turn += 1
        if self.policy.protocol == "ask_user":
            from synthagent.sim.tool_protocol import to_tool_protocol, tool_schemas

            conversation = to_tool_protocol(messages, self.task, structured=self.policy.structured_arguments)
            shown = tool_schemas(self.task)
        else:
            conversation = [_structured(m.openai()) if self.policy.structured_arguments else m.openai()
                            for m in messages]
            shown = tools
        prompt = self.policy.render(conversation, shown)
        text = self.policy.generate(prompt, derive_seed(self.task.id, self.seed, self.turn), shown)
        content, calls = parse_assistant(text)
        return self._message(content, calls)

    def _message(self, content: str, calls: list[tuple[str, str]]) -> Message:
        if self.policy.protocol == "ask_user":
            from synthagent.sim.tool_protocol import ASK_USER, question_of

            if calls and calls[0][0] == ASK_USER:
                return Message(role="assistant", actor="agent", content=question_of(calls[0][1]) or "?")
            calls = [c for c in calls if c[0] != ASK_USER]
            if not calls:
                text = content if "<answer>" in content.lower() else f"<answer>{content}</answer>"
                return Message(role="assistant", actor="agent", content=text)
        tool_calls = [ToolCall(id=f"call_{self.turn}_{i}", function=FunctionCall(name=name, arguments=args))
                      for i, (name, args) in enumerate(calls)]
        return Message(role="assistant", actor="agent", content=content or None, tool_calls=tool_calls or None)
