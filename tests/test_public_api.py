"""The root package's names: the example in its docstring runs, and every advertised name resolves."""

import synthagent


def test_every_root_name_resolves():
    for name in synthagent.__all__:
        assert getattr(synthagent, name) is not None, name


def test_the_docstring_example_runs():
    from synthagent import (Knobs, RoutedTools, RoutedUsers, generate_task, get_domain, reference_policy,
                            run_episode_sync, score)

    task = generate_task(get_domain("retail"), seed=0, knobs=Knobs.for_difficulty(1))
    trajectory = run_episode_sync(task, reference_policy("oracle"), RoutedUsers(), RoutedTools())
    assert score(task, trajectory).reward == 1.0
    assert task.world.kind == "procedural" and synthagent.world_kind(task).offline_gold
