"""Periodic jobs: one entry point (`flask --app portal jobs run [--loop]`) for the portal's
time-based work, safe when several hosts run it at once (each job runs once per period)."""
