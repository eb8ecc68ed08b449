"""The projects service's pure rules: stages, contributions, evaluations. No I/O, no framework."""
