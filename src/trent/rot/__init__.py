"""Root-of-trust adapters: what seals key material and secrets before they reach storage."""
