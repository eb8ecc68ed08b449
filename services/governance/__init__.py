"""The governance service: colleges, weighted votes, decisions, a verifiable audit chain."""
