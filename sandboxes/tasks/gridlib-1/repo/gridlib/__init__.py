from gridlib.grid import Grid

__all__ = ["Grid"]
