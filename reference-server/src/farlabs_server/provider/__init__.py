"""What a provider sees about their wallet: nodes, earnings and payments."""
