"""The node registry: wallet-proven registration, heartbeats, liveness, and who serves which blocks."""
