"""Web-shop webhooks: Shopify and WooCommerce."""
