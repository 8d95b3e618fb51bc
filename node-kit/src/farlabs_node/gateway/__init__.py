"""The node's gateway: `POST /generate` (SSE) and `GET /healthz`, over the swarm or a local model."""
