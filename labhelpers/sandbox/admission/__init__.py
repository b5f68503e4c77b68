"""Admission control for the sandbox apiserver (Kyverno-compatible policies and friends)."""
