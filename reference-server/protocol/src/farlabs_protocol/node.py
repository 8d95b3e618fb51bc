"""What a far-node prints that other processes read (the server's local mesh and the tests wait for it)."""

READY_LINE = "✓ Far Node Server is ready and earning $FAR!"
