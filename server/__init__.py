"""What faces people and editors: the draft parser, the language server and the `citewise` command."""
