"""Matching service: pairs needs with offers, explains each pair, allocates contested capacity."""
