"""Desired state: inventory and blueprint models, quantities, loading with file:line errors."""
