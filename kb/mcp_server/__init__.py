"""The Model Context Protocol server at `/mcp` (streamable HTTP, stateless): Quarry's
collections, search, answers and passages as tools for MCP clients, under the caller's API
token and access policy. Mounted beside Django by kb/asgi.py (app.with_mcp); the tools call the
same selectors and answering functions as the REST API (kb/api/answers.py)."""
