"""Filiera ledger package."""
