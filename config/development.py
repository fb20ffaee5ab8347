"""Development: `make run`. A fixed secret is fine here and only here."""

SECRET_KEY = "development-only-secret-do-not-use-in-production"
