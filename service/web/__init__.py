"""The web pages: Italian, server-rendered, over the same application layer as the API."""
