"""The language server on pygls 2: the only package of citewise that imports pygls or lsprotocol.

Handlers take protocol in, make one features call on the features thread (server.py `run`), and give
protocol out; every conversion goes through convert.py. Threads: see `citewise.server.features.background`."""
