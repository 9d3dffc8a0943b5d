"""Phygital: one view of each customer across stores, web shop and people."""

__version__ = "0.1.0"
