from gridlib import Grid


def test_filled_and_render():
    grid = Grid.filled(3, 2)
    grid.set(1, 1, "@")
    assert grid.render() == "...\n.@."


def test_copy_has_same_content():
    grid = Grid.filled(2, 2, fill="x")
    assert grid.copy().render() == grid.render()
