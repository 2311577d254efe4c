"""What a bargaining player reads: the rules, its private view as text, and the same view as data.

Shared by the multi-agent env and the single-agent view, so both show players the same thing.
"""

from __future__ import annotations

from typing import Any

from agentrl.envs.multiagent.bargaining.game import PLAYERS, Negotiation, value_of


def rules(
    player: int,
    item_names: tuple[str, ...],
    max_moves: int,
    *,
    goals: bool,
    answer_format: str,
    message_tag: str | None = None,
) -> str:
    """The system prompt of ``player``: the game, the move syntax and how to answer."""
    me, other = PLAYERS[player], PLAYERS[1 - player]
    private = "goals" if goals else "values per item"
    talk = (
        f" You may add a short message for {other} inside <{message_tag}></{message_tag}>."
        if message_tag
        else ""
    )
    counts = (1, 2) + (0,) * (len(item_names) - 2)
    example = " ".join(f"{name}={n}" for name, n in zip(item_names, counts))
    short = " ".join(map(str, counts))
    return (
        f"You are {me}, bargaining with {other} over how to split a pool of items ({', '.join(item_names)}). "
        f"You each have private {private}; you do not see the other's. Players alternate moves.\n"
        "Moves:\n"
        f"  propose {example}  -- the counts YOU keep; the other player gets the rest\n"
        f"  propose {short}  -- the same, counts in pool order\n"
        "  accept  -- accept the other player's standing offer (ends the game)\n"
        "  walk away  -- end the game with no deal\n"
        f"The game ends with no deal after {max_moves} moves in total (both players' moves count); "
        f"no deal is worth nothing to either of you. {answer_format}{talk}"
    )


def state_text(
    game: Negotiation,
    player: int,
    *,
    moves: int,
    max_moves: int,
    to_move: int | None,
    goals: list[str] | None = None,
) -> str:
    """``player``'s private view: the move count, the pool, its values (or goals), the offer."""
    scenario = game.scenario
    whose = (
        "the game is over"
        if to_move is None
        else ("your move" if to_move == player else f"{PLAYERS[to_move]}'s move")
    )
    lines = [
        f"You are {PLAYERS[player]}. Move {min(moves + 1, max_moves)} of {max_moves}; {whose}.",
        f"Pool: {scenario.describe_share(scenario.counts)}.",
    ]
    if goals is not None:
        lines.append("Your private goals: " + "; ".join(goal.split(": ", 1)[-1] for goal in goals) + ".")
    else:
        lines.append(
            f"Your private values per item: {scenario.describe_share(scenario.values[player])} "
            f"(the whole pool is worth {scenario.total_value} to you)."
        )
    lines.append(_offer_line(game, player, show_worth=goals is None))
    if to_move is None:
        lines.append(game.outcome_text())
    return "\n".join(lines)


def _offer_line(game: Negotiation, player: int, *, show_worth: bool) -> str:
    scenario = game.scenario
    if game.offer is None:
        return "No offer on the table."
    proposer, _, share = game.offer
    if proposer == player:
        return f"Your offer stands: you keep {scenario.describe_share(scenario.rest(share))}."
    worth = f" (worth {value_of(scenario.values[player], share)} to you)" if show_worth else ""
    return f"Standing offer from {PLAYERS[proposer]}: you get {scenario.describe_share(share)}{worth}."


def view(game: Negotiation, player: int, *, moves: int, max_moves: int) -> dict[str, Any]:
    """``player``'s private view as data (``info["negotiation"]``), read by scripted negotiators."""
    offer = game.offer_for(player)
    return {
        "player": player,
        "item_names": list(game.scenario.item_names),
        "counts": list(game.scenario.counts),
        "values": list(game.scenario.values[player]),
        "offer": list(offer) if offer is not None else None,
        "my_offer_stands": game.offer is not None and game.offer[0] == player,
        "turn": moves,
        "max_turns": max_moves,
    }
