"""Server-rendered pages: the chat shell and the manage pages (Django templates + htmx)."""
