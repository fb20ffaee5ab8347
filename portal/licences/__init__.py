"""Licences: the right granted once a request is paid for (or approved free of charge)."""
