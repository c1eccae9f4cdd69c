"""Registers every command module on the app (import order = help order)."""
