"""Renderers take result objects only, never a connection."""
