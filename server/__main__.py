"""`python -m citewise` and `python -m citewise.server`: the `citewise` command."""

from citewise.server.cli import main

raise SystemExit(main())
