"""Stores, products, stock, orders from every channel, click & collect and promises."""
