"""Demos built on tokgen's public API (``tokgen demo`` starts :mod:`demos.app`)."""
