"""Rendering findings for people and tools (SARIF, JSON, HTML)."""
