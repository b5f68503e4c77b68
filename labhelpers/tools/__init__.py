"""Provisioning of the command-line tools the lab drives (kubectl)."""
