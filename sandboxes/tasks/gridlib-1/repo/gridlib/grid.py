class Grid:
    def __init__(self, rows):
        self.rows = rows

    @classmethod
    def filled(cls, width, height, fill="."):
        return cls([[fill] * width for _ in range(height)])

    def copy(self):
        return Grid(list(self.rows))

    def set(self, x, y, value):
        self.rows[y][x] = value

    def get(self, x, y):
        return self.rows[y][x]

    def render(self):
        return "\n".join("".join(row) for row in self.rows)
