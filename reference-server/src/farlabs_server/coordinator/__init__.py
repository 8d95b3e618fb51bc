"""The coordinator: turns an app's request into tokens from the swarm, metered and recorded."""
