"""Element instances: creation through OAuth, updates, enablement and provider tokens."""
