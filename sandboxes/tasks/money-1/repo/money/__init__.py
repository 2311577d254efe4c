from money.convert import format_cents, to_cents

__all__ = ["format_cents", "to_cents"]
