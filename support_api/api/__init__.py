"""REST blueprints under /v1: parse → access → service → dump."""
