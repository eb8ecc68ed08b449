"""The projects service: the territory's ideas, projects, their stages, contributions and trials."""
