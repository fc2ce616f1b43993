"""Who may see a clinic's data, and what they did: staff accounts (argon2 passwords), login
sessions, per-clinic API keys, and the audit log.

- :mod:`.secrets`: hashing passwords (argon2id) and random tokens (SHA-256), pure.
- :mod:`.fields`: what an e-mail, a role and a password may be, pure.
- :mod:`.accounts`: creating and listing staff accounts, checking a login.
- :mod:`.keys`: creating, finding and revoking a clinic's API keys.
- :mod:`.audit`: writing the audit log.

The web app (dashboard and JSON API) and the CLI use these; the SQL is the store's
(:mod:`followup.store.accounts`).
"""
