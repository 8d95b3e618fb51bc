"""The Petals/hivemind side of a node: DHT bootstrap peer, block server, client failover fix."""
