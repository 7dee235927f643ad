"""Filiera service package."""
