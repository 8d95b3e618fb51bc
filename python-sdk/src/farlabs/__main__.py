"""`python -m farlabs ...` runs the CLI."""

from .cli import main

raise SystemExit(main())
