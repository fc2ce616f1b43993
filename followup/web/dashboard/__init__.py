"""The staff dashboard: server-rendered pages, one router per area."""
