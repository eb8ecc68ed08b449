"""Developer and deploy tools that sit above every service: contract export and migrations.

They import the services to find their specs; the runtime never imports them, so it stays
below the services it serves.
"""
