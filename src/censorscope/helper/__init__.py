"""Test helpers: the servers probes measure against.

* :mod:`.control`: the web_connectivity control measurement (oohelperd's job),
  made with our own netx from the helper's vantage point;
* :mod:`.servers`: the control HTTP(S) server and the echo helpers that the
  middlebox tests need (header echo, TCP echo);
* :mod:`.http_server`: the small asyncio + h11 server they run on;
* :mod:`.commands`: ``censorscope helper``.
"""
