"""The organisation: units, counters, officers and opening hours (``structure``), the national
catalogue of procedures (``catalog``) and least privilege by unit (``scope``).

Import the module you need (``from core.services.org import structure``); nothing is re-exported.
"""
