"""Reporting: the dashboard's figures, rankings, breakdowns, comments and exports."""
