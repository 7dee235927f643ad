"""Filiera matching package."""
