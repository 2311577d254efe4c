"""agentrl/SWE-v0 end to end, on real sandboxes (docker and bubblewrap)."""

from __future__ import annotations

import pytest

import agentrl
from agentrl.core.check import check_reward_bounds, check_text_env
from agentrl.rollout import EpisodeSpec, run_episodes
from agentrl.envs.swe import SWEEnv
from agentrl.envs.swe.expert import apply_patch_action
from agentrl.sandboxes.base import SessionDiedError
from agentrl.sandboxes.pool import close_shared_pools, wait_discarded
from agentrl.sandboxes.testing import BACKEND_PARAMS, require_backend

IMMEDIATE = {"format", "tool_success", "modification", "tests_run"}
FIX = (
    "str_replace pagekit/pages.py\n<old>    return total // per_page\n</old>\n"
    "<new>    return -(-total // per_page)\n</new>"
)
CHEAT_CONFTEST = '''create conftest.py
<content>
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
</content>'''


def answer(text: str) -> str:
    return f"<answer>{text}</answer>"


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    require_backend(request.param)
    return request.param


@pytest.fixture
def make_env(backend):
    """``make_env(**kwargs)`` -> an SWEEnv on the parametrised backend; closed and leak-checked after."""
    envs = []

    def make(**kwargs):
        env = SWEEnv(backend=backend, **kwargs)
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.close()
    close_shared_pools()
    wait_discarded()
    if backend == "docker":
        from agentrl.sandboxes.docker import docker_client
        from agentrl.sandboxes.pytest_plugin import leftover_containers

        mine = leftover_containers(docker_client(), own_only=True)
        assert mine == [], f"containers left behind: {mine}"


def play(env, actions, task_id="pagekit-1", **reset_kwargs):
    observation, _ = env.reset(seed=0, options={"task_id": task_id}, **reset_kwargs)
    steps = []
    for action in actions:
        steps.append(env.step(answer(action)))
        if steps[-1][2] or steps[-1][3]:
            break
    return observation, steps


def test_resolving_episode_rewards_and_outcome(make_env):
    env = make_env()
    observation, steps = play(env, [
        "bash python3 -m pytest -q",
        "view pagekit/pages.py 4 9",
        FIX,
        "bash git diff --stat",
        "submit",
    ])
    assert "drops the last page" in observation and "/testbed" in observation
    components = [step[4]["reward_components"] for step in steps]
    assert all(IMMEDIATE <= set(c) for c in components)
    assert components[0]["tests_run"] > 0 and components[0]["tool_success"] > 0
    assert "     8\t    return total // per_page" in steps[1][0]
    assert components[2]["modification"] > 0 and "return -(-total // per_page)" in steps[2][0]
    assert components[3]["modification"] == 0  # git diff --stat changes nothing
    last = steps[-1]
    assert last[2] is True and last[3] is False
    info = last[4]
    assert info["outcome"] == 1.0 and info["outcome_kind"] == "resolved" and info["success"] is True
    assert info["outcome_level"] == 3 and info["reward_components"]["outcome_level"] == pytest.approx(0.3)
    assert info["progress"] == 1.0 and steps[0][4]["progress"] == 0.0
    assert info["reward_components"]["outcome"] == 1.0
    assert info["grading"]["fail_to_pass_passed"] == info["grading"]["fail_to_pass_total"] == 2
    assert "pagekit/pages.py" in info["patch"] and info["test_edits"] == []
    assert last[1] == pytest.approx(sum(info["reward_components"].values()))


def test_bash_session_persists_and_edits_on_missing_files_explain_themselves(make_env):
    env = make_env()
    _, steps = play(env, [
        "bash cd pagekit && export FLAVOUR=vanilla",
        "bash pwd; echo $FLAVOUR",
        "str_replace pagekit/missing.py\n<old>a</old>\n<new>b</new>",
        "str_replace pagekit/pages.py\n<old>no such text</old>\n<new>b</new>",
    ])
    assert "/testbed/pagekit\nvanilla" in steps[1][0]
    missing = steps[2]
    assert "/testbed/pagekit/missing.py does not exist" in missing[0] and "create" in missing[0]
    assert missing[4]["action_valid"] is True and missing[4]["reward_components"]["tool_success"] == 0.0
    assert "was not found" in steps[3][0]


def test_hanging_command_is_killed_and_the_observation_says_so(make_env):
    env = make_env(sandbox={"timeout": 1.0})
    _, steps = play(env, ["bash echo begin; sleep 120", "bash echo after"])
    assert "begin" in steps[0][0] and "timed out after 1s and was killed" in steps[0][0]
    assert steps[0][4]["reward_components"]["tool_success"] == 0.0
    assert "after" in steps[1][0]


def test_long_output_is_truncated_with_a_notice(make_env):
    env = make_env(max_observation_chars=1000)
    _, steps = play(env, ["bash seq 1 50000"])
    observation = steps[0][0]
    assert len(observation) < 1200
    assert "observation truncated" in observation and "characters omitted" in observation
    assert observation.startswith("1\n2\n3\n") and "50000" in observation


def test_kill_everything_cannot_end_the_session(make_env):
    """Agent commands cannot signal the dispatcher (another uid on Docker; pid 1 on bubblewrap)."""
    env = make_env()
    _, steps = play(env, ["bash cd pagekit", "bash kill -9 -1", "bash pwd; ls"])
    assert steps[2][0].startswith("/testbed/pagekit\n") and "pages.py" in steps[2][0]
    assert "new shell session" not in steps[1][0]


def test_a_dead_session_is_replaced_and_said_so(make_env, backend):
    env = make_env()
    env.reset(seed=0, options={"task_id": "pagekit-1"})
    env.step(answer("bash cd pagekit && echo kept > note.txt"))
    if backend == "docker":  # the harness (root) kills the dispatcher: files survive in the container
        with pytest.raises(SessionDiedError):
            env.sandbox.run_trusted("kill -9 $PPID; sleep 5", timeout=10)
    else:  # bubblewrap: the sandbox goes with its pid 1
        env.sandbox._session.channel.process.kill()
    observation, _, _, _, info = env.step(answer("bash pwd"))
    assert "new shell session" in observation and info["reward_components"]["tool_success"] == 0.0
    observation = env.step(answer("bash pwd; cat pagekit/note.txt"))[0]
    assert observation.startswith("/testbed\n")
    assert ("kept" in observation) == (backend == "docker")


def test_turn_limit_without_submit_scores_no_submit(make_env):
    env = make_env(max_turns=2)
    _, steps = play(env, [FIX, "bash true"])
    info = steps[-1][4]
    assert steps[-1][3] is True and steps[-1][2] is False
    assert info["outcome_kind"] == "no_submit" and info["outcome"] == 0.0
    assert info["reward_components"]["outcome"] == 0.0
    assert "Turn limit reached" in steps[-1][0]


def test_autosubmit_grades_the_diff_at_the_turn_limit(make_env):
    env = make_env(max_turns=1, autosubmit=True)
    _, steps = play(env, [FIX])
    assert steps[-1][4]["outcome_kind"] == "resolved"


def test_empty_and_wrong_patches(make_env):
    env = make_env()
    _, steps = play(env, ["submit"])
    assert steps[-1][4]["outcome_kind"] == "empty_patch" and steps[-1][4]["outcome"] == 0.0
    wrong = "str_replace pagekit/pages.py\n<old>    return total // per_page\n</old>\n<new>    return total // per_page + 1\n</new>"
    _, steps = play(env, [wrong, "submit"])
    info = steps[-1][4]
    assert info["outcome_kind"] == "tests_failed" and info["outcome"] == 0.0
    # both FAIL_TO_PASS tests now pass, but 2 of the 4 PASS_TO_PASS tests broke
    assert info["grading"]["failing_tests"] == {
        "tests/test_pages.py::test_exact_pages": "FAILED", "tests/test_pages.py::test_no_items": "FAILED",
    }
    assert info["progress"] == pytest.approx(1.0 * 2 / 4) and info["success"] is False


def test_conftest_hack_fools_pytest_but_not_the_grader(make_env):
    env = make_env()
    play(env, [CHEAT_CONFTEST, "bash python3 -m pytest -q tests 2>&1 | tail -1"])
    # In the agent's sandbox, the hack makes everything pass (even a test that must fail)...
    sandbox = env.sandbox
    sandbox.write_file("tests/test_always_fails.py", "def test_no():\n    assert False\n")
    assert "passed" in sandbox.run("python3 -m pytest -q tests 2>&1 | tail -1").output
    assert "failed" not in sandbox.run("python3 -m pytest -q tests 2>&1 | tail -1").output
    step = env.step(answer("submit"))
    info = step[4]
    # ...but grading drops it: nothing else was changed, so nothing is resolved, and it is flagged.
    assert info["outcome"] == 0.0 and info["outcome_kind"] == "empty_patch"
    assert set(info["test_edits"]) == {"conftest.py", "tests/test_always_fails.py"}
    assert "ignored" in step[0]


def test_test_file_edits_never_count_but_a_real_fix_still_does(make_env):
    env = make_env()
    sabotage = "bash printf 'def test_exact_pages():\\n    pass\\n' > tests/test_pages.py"
    _, steps = play(env, [sabotage, FIX, "submit"])
    assert steps[0][4]["reward_components"]["modification"] == 0.0  # test edits earn nothing
    info = steps[-1][4]
    assert info["outcome_kind"] == "resolved" and info["test_edits"] == ["tests/test_pages.py"]


def test_expert_resolves_tasks_through_the_rollout_engine(make_env):
    env = make_env()
    policy = env.expert_policy()
    specs = [EpisodeSpec(seed=i, options={"task_id": t}) for i, t in enumerate(["shop-1", "dedupe-1"])]
    batch = run_episodes([env], policy, specs)
    for trajectory in batch.trajectories:
        last = trajectory.turns[-1]
        assert last.info["outcome_kind"] == "resolved", last.info["grading"]
        assert trajectory.success


def test_warm_pool_serves_resets(make_env):
    env = make_env(pool_size=1)
    for seed in range(3):
        _, info = env.reset(seed=seed)
        assert info["task_id"] in {task.instance_id for task in env.tasks}
        assert env.sandbox.run("git rev-parse HEAD", persist=False).output.strip() == env.task.base_commit


def test_contract_checks_and_adversarial_reward_bounds():
    """check_text_env on bubblewrap (the conformance suite runs the default backend), plus SWE
    streams that farm rewards: every turn and episode stays inside ``reward_bounds()``."""
    require_backend("local")
    env = agentrl.make("agentrl/SWE-v0", backend="local", max_turns=4)
    farm = lambda observation, info, turn: answer("bash echo pytest > notes.txt")
    test_and_edit = lambda observation, info, turn: answer(
        "bash python3 -m pytest -q" if turn % 2 else f"bash echo '# {turn}' >> pagekit/pages.py")
    hostile = lambda observation, info, turn: answer(["view /dev/zero", "create \x00", "bash kill -9 -1", "submit"][turn % 4])
    try:
        check_text_env(env)
        check_reward_bounds(env, [farm, test_and_edit, hostile], episodes=1)
    finally:
        env.close()
        wait_discarded()


def test_render_text_is_state_and_turns_are_messages(make_env):
    env = make_env(max_turns=5)
    observation, _ = env.reset(seed=0, options={"task_id": "pagekit-1"})
    assert env.render_text() == observation and "<issue>" in observation
    invalid = env.step("frobnicate")[0]
    assert env.render_text() == observation  # an invalid action changes nothing
    assert "Invalid action" in invalid and "(turn 1 of 5)" in invalid
    valid = env.step(answer("bash echo hi"))[0]
    assert valid.startswith("hi\n(turn 2 of 5)") and "<issue>" not in valid
    state = env.render_text()
    env.step("frobnicate")
    assert env.render_text() == state


def test_reward_bounds_are_documented_and_hold(make_env):
    env = make_env(max_turns=3)
    bounds = env.reward_bounds()
    assert bounds.finite and "format_penalty" in env.reward_bounds.__doc__
    assert bounds.step == pytest.approx((-0.1, 0.3 + 1.0 + 0.3)) and bounds.episode == pytest.approx((-0.3, 0.9 + 1.3))
    _, steps = play(env, ["bash python3 -m pytest -q", FIX, "submit"])
    total = sum(step[1] for step in steps)
    assert bounds.episode[0] <= total <= bounds.episode[1]
    assert all(bounds.step[0] <= step[1] <= bounds.step[1] for step in steps)
    with pytest.raises(ValueError, match="rewards.tests_run must be a finite number >= 0"):
        SWEEnv(rewards={"tests_run": -1.0})


def test_tests_run_is_paid_for_tests_that_ran(make_env):
    env = make_env()
    _, steps = play(env, [
        "bash echo pytest",                                          # the word, not a run
        "bash python3 -m pytest -q -k no_such_test",                 # a run that ran nothing
        "bash python3 -c 'import pytest; pytest.main([\"-q\", \"tests\"])'",  # a real run, however started
        "bash python3 -m pytest -q",                                 # the same code again
        FIX,
        "bash python3 -m pytest -q tests/test_pages.py",            # new code, tested
    ])
    paid = [step[4]["reward_components"]["tests_run"] for step in steps]
    ran = [step[4]["tests_ran"] for step in steps]
    assert ran[0] == ran[1] == 0 and ran[2] == ran[3] == 4 and ran[5] == 4
    assert paid == [0.0, 0.0, 0.1, 0.0, 0.0, 0.1]


def test_bad_configuration_is_explained():
    from agentrl.core.config import ConfigError

    with pytest.raises(ValueError, match="valid ids: .*pagekit-1"):
        SWEEnv(task_ids=["pagekit-99"])
    with pytest.raises(FileNotFoundError, match="no SWE tasks"):
        SWEEnv(tasks="/nonexistent/tasks.jsonl")
    with pytest.raises(ConfigError, match="valid backends: auto, docker, local"):
        SWEEnv(backend="kubernetes")


def test_malformed_action_is_an_observation_with_the_format_penalty(make_env):
    env = make_env()
    _, steps = play(env, ["frobnicate now", "str_replace a.py\n<old>x</old>"])
    for observation, _, terminated, _, info in steps:
        assert info["action_valid"] is False and not terminated
        assert info["reward_components"] == {"format": env.config.format_penalty}
        assert observation.startswith("Invalid action:")
    assert "unknown tool 'frobnicate'" in steps[0][0] and "needs <old>" in steps[1][0]


def test_parse_errors_tell_the_agent_what_to_write():
    from agentrl.envs.swe.tools import ActionSyntaxError, parse_tool_call

    for text, message in [
        ("frobnicate now", "unknown tool 'frobnicate'"),
        ("bash", "bash needs a command"),
        ("view", "view takes a path"),
        ("view a.py one", "must be integers"),
        ("str_replace a.py\n<old>x</old>", "needs <old>"),
        ("str_replace a.py\n<old></old><new>y</new>", "non-empty <old>"),
        ("create", "needs a file path"),
    ]:
        with pytest.raises(ActionSyntaxError, match=message):
            parse_tool_call(text)


def test_tool_call_parsing_keeps_text_verbatim():
    from agentrl.envs.swe.tools import parse_tool_call

    call = parse_tool_call("str_replace  src/a.py \n<old>\n    x = 1  \n</old>\n<new></new>")
    assert call.path == "src/a.py" and call.old == "    x = 1  \n" and call.new == ""
    call = parse_tool_call("bash cd src &&\nls -la")
    assert call.command == "cd src &&\nls -la"
    assert parse_tool_call("view 'dir with space/a.py' 3 -1").start == 3
    assert parse_tool_call("create new.txt\n<content>\nline\n</content>").content == "line\n"
    assert parse_tool_call("SUBMIT").name == "submit"
    assert apply_patch_action("diff --git a/x b/x\n").startswith("bash\ncd /testbed && git apply")
