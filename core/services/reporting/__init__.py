"""Reporting: the dashboard's, public page's, API's and exports' figures (docs/DEVELOPING.md,
"Reporting"). Modules import downwards only: errors, periods <- filters <- cells <- figures <-
rankings, breakdowns; comments and exports on top. Import the module you need; nothing is
re-exported here.
"""
