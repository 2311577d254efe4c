"""TrajectoryBatch.informative_groups: DAPO's dynamic-sampling filter keeps whole groups whose
members reached different outcomes, in order, and nothing else."""

from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn


def episode(group: str, outcome: float, turns: int = 2) -> Trajectory:
    return Trajectory(turns=[Turn(observation="o", action="a") for _ in range(turns)], group_id=group,
                      outcome=outcome, success=outcome >= 1.0)


def test_uniform_groups_are_left_out_and_mixed_ones_kept_whole():
    batch = TrajectoryBatch([
        episode("all-won", 1.0), episode("mixed", 1.0), episode("all-lost", 0.0), episode("mixed", 0.0),
        episode("all-won", 1.0), episode("all-lost", 0.0), episode("partial", 0.5), episode("partial", 0.0),
    ])
    batch.metrics["stage/x"] = 3.0
    kept = batch.informative_groups()
    assert [(t.group_id, t.outcome) for t in kept] == [("mixed", 1.0), ("mixed", 0.0), ("partial", 0.5), ("partial", 0.0)]
    assert kept.metrics == {"stage/x": 3.0}
    assert len(batch) == 8  # the original batch is untouched


def test_a_group_of_one_teaches_nothing_and_an_empty_batch_stays_empty():
    assert len(TrajectoryBatch([episode("alone", 1.0)]).informative_groups()) == 0
    assert len(TrajectoryBatch([]).informative_groups()) == 0
