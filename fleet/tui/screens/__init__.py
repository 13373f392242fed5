"""Modal screens: confirmations, scale, plan preview, describe, logs, help."""
