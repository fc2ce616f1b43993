"""The clinic's JSON API under /api/v1, one router per resource."""
