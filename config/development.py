"""Development: `make run`. The secret key is generated into instance/secret_key."""

PAYMENT_PROVIDER = "demo"
