"""What faces people, editors and agents: the draft parser, the language server, the `citewise` command
and the MCP server."""
