"""The regulation's roles, signed envelopes between them, and the verifiable exchange log.

Pure core: :mod:`exchange.verifier` (canonical bytes, chain, checks; shipped in audit
bundles), :mod:`exchange.envelope`, :mod:`exchange.lifecycle`, :mod:`exchange.replication`.
Edges: :mod:`exchange.home` (files, keys), :mod:`exchange.log` and friends (SQL),
:mod:`exchange.cli` (the regulator's commands). See docs/exchange.md.
"""
