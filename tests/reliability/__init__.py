"""Reliability suite: fuzzing, security and fault-injection tests against a real server (issue 9)."""
