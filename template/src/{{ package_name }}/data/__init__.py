"""Data: the contract (``schema.py``), the sources, ingestion with quarantine and lineage, and
adopting a team's own table into a contract.

Above settings only; everything else reads the contract from here.
"""
