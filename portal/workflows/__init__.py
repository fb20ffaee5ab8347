"""Use cases that span domains: the only code that calls more than one domain's services.

- checkout:     accept and pay, pay again, the buyer's return, the demo's test page
- confirmation: release on a confirmed payment (or hold it for staff), refunds, disputes,
                invoices paid by transfer
- decisions:    quote and re-quote, approve free, decline, withdraw, the payment method
                (each closes the checkouts it makes pointless, after its commit)
- providers:    fetch-back, closing checkouts, reconciliation, provider events (webhooks)
- takedown:     withdrawing an article, corrections sent to licensees

Each workflow reads and decides in one transaction, calls a provider with no transaction
open and no row locked, and records the answer in the next transaction (re-checking, under
the row lock, that nothing moved meanwhile). Views, the webhook and commands call these.
"""
