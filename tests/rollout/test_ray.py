"""The Ray rollout backend (local Ray, 2 CPUs): same results as the in-process loop, worker deaths
survived without losing a finished trajectory, generation actors with weight sync; and the
optional vLLM backend's import guard and output conversion (vLLM itself needs a GPU)."""

from __future__ import annotations

import functools
import os
import sys
from types import SimpleNamespace

import pytest

import agentrl
from agentrl.core.policy import PolicyInput, RandomPolicy
from agentrl.core.registry import MissingExtraError, UnknownEnvError
from agentrl.rollout import EpisodeSpec, grouped_specs, run_episodes
from agentrl.envs.sokoban.env import SokobanEnv
from agentrl.envs.sokoban.expert import SolverPolicy

ENV = "agentrl/Sokoban-v0"
SPECS = grouped_specs(range(16), 1)


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    import agentrl.rollout.ray  # noqa: F401  (before ray.init: it turns Ray's usage reporting off)

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # Envs and factories defined in this file must reach the workers by value (tests are not a package).
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def reference():
    """The in-process rollout every Ray rollout must reproduce."""
    return run_episodes([agentrl.make(ENV) for _ in range(4)], SolverPolicy(), SPECS)


def as_dicts(batch):
    return [trajectory.to_dict() for trajectory in batch]


def backend(**kwargs):
    from agentrl.rollout.ray import RayRolloutBackend

    options = dict(num_workers=2, envs_per_worker=2, worker_num_cpus=0.5)
    options.update(kwargs)
    env_id = options.pop("env_id", ENV)
    return RayRolloutBackend(env_id, options.pop("env_kwargs", {}), **options)


# --------------------------------------------------------------------------- contract
@pytest.mark.slow
def test_same_trajectories_in_the_same_order_as_run_episodes(ray_local, reference):
    calls = []

    class Recording(SolverPolicy):
        def act(self, inputs):
            calls.append(len(inputs))
            return super().act(inputs)

    with backend() as ray_backend:
        batch = ray_backend.run_episodes(Recording(), SPECS)
        assert as_dicts(batch) == as_dicts(reference)
        assert max(calls) == 4  # one batched act over every live episode on both workers
        assert batch.metrics["rollout/episodes"] == len(SPECS)
        assert batch.metrics["rollout/env_steps"] == reference.num_turns
        assert batch.metrics["rollout/worker_restarts"] == batch.metrics["rollout/episodes_rerun"] == 0
        # a second call on the same backend starts clean and agrees again
        assert as_dicts(ray_backend.run_episodes(SolverPolicy(), SPECS)) == as_dicts(reference)


@pytest.mark.slow
def test_killed_worker_mid_rollout_loses_no_finished_trajectory(ray_local, reference):
    with backend() as ray_backend:
        pids = set(ray_backend.worker_pids())
        finished_before_kill: list = []
        killed = []

        def kill_after_three(trajectory):
            if not killed:
                finished_before_kill.append(trajectory)
            if len(finished_before_kill) == 3 and not killed:
                killed.append(ray_backend.workers[0])
                ray_local.kill(ray_backend.workers[0])

        batch = ray_backend.run_episodes(SolverPolicy(), SPECS, on_episode=kill_after_three)
        assert killed, "the worker was never killed: the test did not test anything"
        # every trajectory finished before the kill is in the result, untouched (the same objects)
        assert all(any(t is kept for kept in batch) for t in finished_before_kill)
        assert as_dicts(batch) == as_dicts(reference)  # the run finished, and re-runs replay the same seeds
        assert batch.metrics["rollout/worker_restarts"] == 1
        assert 1 <= batch.metrics["rollout/episodes_rerun"] <= ray_backend.executor.config.envs_per_worker
        assert batch.metrics["rollout/episodes"] == len(SPECS)
        new_pids = set(ray_backend.worker_pids())
        assert len(new_pids) == 2 and len(new_pids - pids) == 1  # one replacement process


def crash_once_sokoban(marker: str, **kwargs):
    """Sokoban whose process exits (os._exit) on the first step of its third episode, once per marker."""
    env = SokobanEnv(**kwargs)
    original_step, original_reset = env.step, env.reset
    episodes = []

    def reset(**reset_kwargs):
        episodes.append(1)
        return original_reset(**reset_kwargs)

    def step(action):
        if len(episodes) >= 3 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # a hard crash: no exception, no cleanup
        return original_step(action)

    env.reset, env.step = reset, step
    return env


@pytest.mark.slow
def test_worker_process_crash_is_survived(ray_local, reference, tmp_path):
    marker = tmp_path / "crashed"
    env_id = agentrl.register("agentrl/CrashOnceSokoban-v0", crash_once_sokoban, marker=str(marker))
    finished = []
    with backend(env_id=env_id) as ray_backend:
        batch = ray_backend.run_episodes(SolverPolicy(), SPECS, on_episode=finished.append)
        assert marker.exists(), "no worker crashed"
        assert batch.metrics["rollout/worker_restarts"] == 1 and batch.metrics["rollout/episodes_rerun"] >= 1
        assert [t.to_dict()["turns"] for t in batch] == [t["turns"] for t in as_dicts(reference)]
        assert len(finished) == len(SPECS) and all(any(t is f for f in finished) for t in batch)


@pytest.mark.slow
def test_restart_budget_is_a_clear_error(ray_local):
    with backend(max_worker_restarts=0, num_workers=1) as ray_backend:

        def kill(_):
            ray_local.kill(ray_backend.workers[0])

        with pytest.raises(RuntimeError, match="restart budget"):
            ray_backend.run_episodes(SolverPolicy(), SPECS, on_episode=kill)


@pytest.mark.slow
def test_env_errors_inside_a_worker_surface_with_their_message(ray_local):
    with pytest.raises(Exception, match="max_turns must be >= 1"):
        backend(num_workers=1, env_kwargs={"max_turns": 0})


def test_unknown_env_id_fails_before_starting_ray():
    pytest.importorskip("ray")
    from agentrl.rollout.ray import RayRolloutBackend

    with pytest.raises(UnknownEnvError, match="Sokoban-v0"):
        RayRolloutBackend("agentrl/Sokoban-v9", {}, num_workers=1)


@pytest.mark.slow
def test_close_ends_the_workers(ray_local):
    ray_backend = backend(num_workers=1)
    worker = ray_backend.workers[0]
    ray_backend.close()
    with pytest.raises(ray_local.exceptions.RayActorError):
        ray_local.get(worker.pid.remote())
    ray_backend.close()  # idempotent


@pytest.mark.slow
def test_worker_threads_overlap_waiting_steps(ray_local, reference):
    """Threads in a worker give the same trajectories (each env is stepped by one thread at a time)."""
    with backend(num_workers=1, envs_per_worker=4, threads_per_worker=4) as ray_backend:
        assert as_dicts(ray_backend.run_episodes(SolverPolicy(), SPECS)) == as_dicts(reference)


CLUSTER_CLIENT = """
import json, os
import ray
from agentrl.rollout import grouped_specs
from agentrl.envs.sokoban.expert import SolverPolicy
from agentrl.rollout.ray import RayRolloutBackend

assert not ray.is_initialized()
backend = RayRolloutBackend("agentrl/Sokoban-v0", {}, num_workers=1, envs_per_worker=2, worker_num_cpus=0.5)
batch = backend.run_episodes(SolverPolicy(), grouped_specs(range(4), 1))
address = ray.get_runtime_context().gcs_address
backend.close()
print(json.dumps({"address": address, "success": batch.summary()["success_rate"], "episodes": len(batch)}))
"""


@pytest.mark.slow
def test_ray_address_connects_to_a_running_cluster(ray_local):
    """A second driver process finds the cluster through RAY_ADDRESS (no ray.init of its own)."""
    import json
    import subprocess

    address = ray_local.get_runtime_context().gcs_address
    env = {**os.environ, "RAY_ADDRESS": address}
    done = subprocess.run(
        [sys.executable, "-c", CLUSTER_CLIENT], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"address": address, "success": 1.0, "episodes": 4}
    assert ray_local.is_initialized()  # the client's close() left this cluster running


@pytest.mark.slow
def test_train_config_switches_to_the_ray_backend(ray_local, tmp_path):
    loop = pytest.importorskip("agentrl.train.loop")
    from agentrl.train.config import load_config

    config = load_config(
        {
            "env": {"id": ENV, "kwargs": {"max_turns": 3}},
            "policy": {
                "model": "tiny",
                "tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2},
                "context": "last",
                "max_new_tokens": 4,
                "system_prompt": False,
            },
            "rl": {"iterations": 1, "tasks_per_iteration": 2, "group_size": 2, "num_envs": 2},
            "eval": {"episodes": 0},
            "rollout": {"backend": "ray", "ray": {"num_workers": 1, "envs_per_worker": 2}},
            "run": {"output_dir": str(tmp_path), "progress": False, "tensorboard": False, "resume": False},
        },
        {},
    )
    trainer = loop.Trainer(config)
    assert type(trainer.rollout).__name__ == "RayRolloutBackend"
    result = trainer.run()
    (record,) = [r for r in result.metrics if r.get("iteration") == 1]
    assert record["rollout/episodes"] == 4
    engine = {key.split("/", 1)[1]: value for key, value in record.items() if key.startswith("rollout_engine/")}
    assert engine["episodes"] == 4 and engine["worker_restarts"] == 0
    assert ray_local.is_initialized()  # a Ray the trainer did not start is left running


@pytest.mark.slow
@pytest.mark.docker
def test_docker_sandbox_envs_live_in_the_workers(ray_local):
    """SWE episodes on a Ray worker: containers belong to the worker process and go with close()."""
    from agentrl.sandboxes.testing import require_backend

    require_backend("docker")
    from agentrl.sandboxes.docker import docker_client
    from agentrl.sandboxes.reaper import OWNER_LABEL, owner_id

    def containers_of(owner):  # sparse: no per-container inspect, so no race with removals elsewhere
        found = docker_client().containers.list(
            all=True, sparse=True, filters={"label": f"{OWNER_LABEL}={owner}"}
        )
        return [container.id for container in found]

    tasks = ("pagekit-1", "calendar-1")
    kwargs = {"backend": "docker", "task_ids": list(tasks)}
    expert = agentrl.make("agentrl/SWE-v0", **kwargs).unwrapped.expert_policy()
    specs = [EpisodeSpec(seed=0, group_id=task, options={"task_id": task}) for task in tasks]
    ray_backend = backend(env_id="agentrl/SWE-v0", env_kwargs=kwargs, num_workers=1, threads_per_worker=2)
    owner = owner_id(ray_backend.worker_pids()[0])
    seen = []
    try:
        batch = ray_backend.run_episodes(
            expert, specs, on_episode=lambda t: seen.append(containers_of(owner))
        )
        assert [t.task_id for t in batch] == list(tasks)
        assert [t.turns[-1].info["outcome_kind"] for t in batch] == ["resolved", "resolved"]
        assert all(t.outcome == 1.0 for t in batch)
        assert any(seen), "no container of the worker process was seen during the rollout"
    finally:
        ray_backend.close()
    assert containers_of(owner) == [], "close() returned before the worker's containers were removed"


# -------------------------------------------------------------------- generation actors
def tiny_hf_policy():
    import torch

    from agentrl.models import tiny_causal_lm, tiny_tokenizer
    from agentrl.policies.generation import GenerationConfig
    from agentrl.policies.hf import HFPolicy

    torch.manual_seed(0)
    return HFPolicy(tiny_causal_lm(), tiny_tokenizer(), GenerationConfig(max_new_tokens=6, greedy=True))


@pytest.mark.slow
def test_generation_actors_match_driver_generation_and_take_synced_weights(ray_local):
    import torch

    from agentrl.models import tiny_causal_lm
    from agentrl.rollout.ray import RayGenerationPolicy

    inputs = [
        PolicyInput(observation=f"room {i}", instructions="Solve Sokoban.", episode_key=i) for i in range(5)
    ]
    local = tiny_hf_policy()
    remote = RayGenerationPolicy(tiny_hf_policy, num_actors=2, num_cpus=0.5)
    try:
        same = lambda a, b: [(o.token_ids, o.text) for o in a] == [(o.token_ids, o.text) for o in b]  # noqa: E731
        assert same(remote.act(inputs), local.act(inputs))
        torch.manual_seed(123)
        learner = tiny_causal_lm()  # different weights, as after a learner update
        local.load_weights(learner.state_dict())
        remote.sync_weights(learner.state_dict())
        synced = remote.act(inputs)
        assert same(synced, local.act(inputs))
        ray_local.kill(remote.actors[1])  # a dead generation actor is replaced with the synced weights
        assert same(remote.act(inputs), synced) and remote.restarts == 1
    finally:
        remote.close()


@pytest.mark.slow
def test_ray_rollout_with_generation_actors(ray_local, reference):
    from agentrl.rollout.ray import RayGenerationPolicy

    remote = RayGenerationPolicy(SolverPolicy, num_actors=1, num_cpus=0.5)
    try:
        with backend(num_workers=1) as ray_backend:
            assert as_dicts(ray_backend.run_episodes(remote, SPECS)) == as_dicts(reference)
    finally:
        remote.close()


def test_generation_worker_needs_load_weights():
    pytest.importorskip("ray")
    from agentrl.rollout.ray import GenerationWorker

    with pytest.raises(TypeError, match="load_weights"):
        GenerationWorker(functools.partial(RandomPolicy, seed=0)).load_weights({})


# ------------------------------------------------------------------------- vLLM backend
def test_vllm_module_imports_without_vllm_and_says_how_to_install():
    from agentrl.policies import vllm as backend_module

    if importlib_util_has("vllm"):
        pytest.skip("vLLM is installed here; the import guard is not exercised")
    with pytest.raises(MissingExtraError, match=r"pip install 'agentrl\[vllm\]'"):
        backend_module.VLLMPolicy("some/model", tokenizer=None)
    from agentrl.eval.policy_specs import make_policy

    with pytest.raises(MissingExtraError, match="CUDA"):
        make_policy("vllm:some/model")


def importlib_util_has(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def completion(tokens, logprobs, finish_reason, text="x"):
    """A completion shaped like vLLM's ``CompletionOutput`` (logprobs: one {token: Logprob} per position)."""
    return SimpleNamespace(
        token_ids=tokens,
        text=text,
        finish_reason=finish_reason,
        logprobs=[{t: SimpleNamespace(logprob=lp)} for t, lp in zip(tokens, logprobs)],
    )


def test_vllm_completion_becomes_an_exact_token_record():
    from agentrl.policies.vllm import completion_output

    out = completion_output([5, 6], True, completion([7, 8, 2], [-0.5, -1.0, -0.1], "stop"), eos_id=2)
    assert out.token_ids == [5, 6, 7, 8, 2]
    assert out.loss_mask == [0, 0, 1, 1, 1]
    assert out.logprobs == [0.0, 0.0, -0.5, -1.0, -0.1]
    assert out.new_context and not out.generation_truncated
    cut = completion_output([5], False, completion([7, 8], [-0.5, -1.0], "length"), eos_id=2)
    assert cut.generation_truncated and not cut.new_context
    with pytest.raises(RuntimeError, match="logprobs=0"):
        completion_output(
            [5], True, SimpleNamespace(token_ids=[7], text="", finish_reason="stop", logprobs=None), 2
        )


def test_vllm_policy_builds_the_same_contexts_as_hf_policy(monkeypatch, tiny_tokenizer):
    """Everything but vLLM's sampling: prompts from history, outputs, weight sync calls."""
    from agentrl.policies import vllm as backend_module
    from agentrl.policies.generation import GenerationConfig

    requests = []

    class Engine:  # the two calls VLLMPolicy makes on vllm.LLM
        def generate(self, prompts, params, use_tqdm=False):
            requests.append([p["prompt_token_ids"] for p in prompts])
            return [
                SimpleNamespace(outputs=[completion([11, tiny_tokenizer.eos_token_id], [-0.2, -0.3], "stop")])
                for _ in prompts
            ]

        def collective_rpc(self, method, args=()):
            requests.append((method, args))

    fake_vllm = SimpleNamespace(SamplingParams=lambda **kw: kw, LLM=None)
    monkeypatch.setattr(backend_module, "require_vllm", lambda: fake_vllm)
    policy = backend_module.VLLMPolicy(
        "tiny", tiny_tokenizer, GenerationConfig(max_new_tokens=4), llm=Engine()
    )
    reference = tiny_hf_policy()
    first = PolicyInput(observation="room", instructions="Solve it.")
    out = policy.act([first])[0]
    prompt_ids = lambda o: [t for t, m in zip(o.token_ids, o.loss_mask) if not m]  # noqa: E731
    assert prompt_ids(out) == requests[0][0] == prompt_ids(reference.act([first])[0])
    assert out.token_ids[len(prompt_ids(out)) :] == [11, tiny_tokenizer.eos_token_id] and out.logprobs[
        -2:
    ] == [-0.2, -0.3]
    from agentrl.core.trajectory import Turn

    turn = Turn(observation="room", action=out.text, token_ids=out.token_ids, loss_mask=out.loss_mask)
    second = policy.act([PolicyInput(observation="room 2", instructions="Solve it.", history=[turn])])[0]
    assert requests[1][0][: len(out.token_ids)] == out.token_ids  # the context continues the stored tokens
    assert not second.new_context
    policy.load_weights({"w": __import__("torch").ones(2)})
    method, (named,) = requests[2]
    assert method == "agentrl_load_weights" and named[0][0] == "w"


def test_vllm_worker_extension_loads_named_weights():
    import torch

    from agentrl.policies.vllm import WeightSyncExtension

    class Model(torch.nn.Linear):
        def load_weights(self, weights):  # vLLM models take an iterable of (name, tensor)
            self.load_state_dict(dict(weights))

    worker = WeightSyncExtension()
    worker.model_runner = SimpleNamespace(model=Model(2, 2))
    new = {"weight": torch.full((2, 2), 3.0), "bias": torch.zeros(2)}
    worker.agentrl_load_weights(list(new.items()))
    assert torch.equal(worker.model_runner.model.weight, new["weight"])
