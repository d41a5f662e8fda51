"""Shipped configuration files (package data, so that a wheel install finds them too)."""
