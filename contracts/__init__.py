"""MCVT event contracts: the CloudEvents envelope, topic names and one module per aggregate.

Only schemas live here. Services map their domain to these models; nothing else crosses the wire.
"""
