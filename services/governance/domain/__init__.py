"""Governance's pure logic: tallies, ballots, the audit chain. No I/O, no framework."""
