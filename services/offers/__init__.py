"""The offers service: dormant assets, usage offers (EFC) and resource requests (needs)."""
