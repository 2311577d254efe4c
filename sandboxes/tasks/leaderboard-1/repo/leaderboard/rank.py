def ranking(scores):
    """Player names by score, highest first; equal scores by name, A to Z."""
    return [name for name, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def top(scores, n=3):
    return ranking(scores)[:n]
