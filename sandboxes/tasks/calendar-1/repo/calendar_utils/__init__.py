from calendar_utils.dates import day_of_year, days_in_month, is_leap

__all__ = ["day_of_year", "days_in_month", "is_leap"]
