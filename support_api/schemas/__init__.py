"""Request schemas (marshmallow, the input contract) and response dumpers."""
