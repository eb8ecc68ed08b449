"""The actors service: territories, actors, members' API keys and access tokens."""
