"""Filiera reports package."""
