"""Runnable tutorials: Markdown lessons whose commands are run and whose shown output is checked."""
