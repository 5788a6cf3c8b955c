"""Senders for the outbox: SMTP for mail, HTTP for webhooks (the I/O behind ``domain/outbox.py``)."""
