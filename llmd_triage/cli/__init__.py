"""Thin commands over the library; the only place that decides exit codes and prints."""
