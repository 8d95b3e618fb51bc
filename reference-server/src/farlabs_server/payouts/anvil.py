"""What the payer takes from anvil (Foundry's local EVM) when `FARLABS_PAYOUT_RPC_URL` points at one.

The launcher that tests and development use to start anvil is farlabs_devtools.anvil (not part of the server).
"""

# anvil's first pre-funded account: a public test key, never for real funds.
ANVIL_TEST_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
