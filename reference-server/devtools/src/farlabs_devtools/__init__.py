"""Far Mesh development tools (the `farlabs-devtools` distribution, never a dependency of the server):

- `testing`: the helpers and pytest fixtures every Python suite shares (a pytest plugin, registered by entry point);
- `sse`: one reader of server-sent events for tests, benchmarks and the demo;
- `localmesh` and `demo`: a whole mesh on one machine (`make demo`, the cross-package tests);
- `anvil`: a local anvil chain for payout tests;
- `api_reference`: renders docs/api-reference.md from the server's OpenAPI document.
"""
