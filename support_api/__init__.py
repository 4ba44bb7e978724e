"""support_api: the support-chat backend of a crypto exchange's mobile trading app.

Kept import-free on purpose: `support-api serve` must monkey-patch the async runtime
before Flask, SQLAlchemy or psycopg are imported.
"""

__version__ = "0.1.0"
