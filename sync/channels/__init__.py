"""Channels: ways a message reaches a person (e-mail now, SMS next).

A channel queues its messages in the outbox (sync/outbox.py) and registers a deliverer for
its kind of item at start-up (sync/apps.py); the outbox knows no channel. What a message
says is composed elsewhere (sync/mail.py, sync/waitlist.py).
"""
