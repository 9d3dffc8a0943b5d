"""Web-shop webhooks: Shopify and WooCommerce (contract, section 5; docs/webhooks.md).

- `api`: the routes; signature over the raw bytes first (`404` without a secret, `401` when
  wrong), then the pipeline.
- `deliveries`: signature check, delivery ids, and the pipeline that applies a delivery once,
  in a savepoint, and records it (`processed`, `ignored`, or `rejected` with its body).
- `shopify`, `woocommerce`: each reads its shop's bodies into a provider-independent action.
- `shop`: the actions and how they are applied (orders through `commerce.orders`, customers
  through `identity`); `payload`: typed accessors that name the bad field.
"""
