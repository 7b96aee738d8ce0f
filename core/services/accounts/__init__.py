"""Accounts: administrator users (``users``), signing in and out (``signin``), reporting API
tokens (``api_tokens``) and the audit log of sensitive actions (``audit``).

Import the module you need (``from core.services.accounts import users``); nothing is
re-exported.
"""
