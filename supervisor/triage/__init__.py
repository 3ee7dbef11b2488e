"""Failure discovery: CI logs in, failures out (extract), identified (fingerprint) and judged
(classify)."""
