"""Widgets: each renders part of the state; none holds state of its own."""
