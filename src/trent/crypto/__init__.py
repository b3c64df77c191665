"""The only package that imports ``cryptography``: every primitive Trent uses lives here."""
