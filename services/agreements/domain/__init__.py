"""The agreements' pure logic: terms, lifecycle, schedule, usage, statements, value, credits.

No database, no HTTP, no broker: the handlers read and write, these modules decide.
"""
