"""Benchmarks: programs that print and save figures; never imported by the product."""
