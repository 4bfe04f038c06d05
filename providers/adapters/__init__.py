"""One ProviderPort implementation per acquirer, each speaking its provider's HTTP API."""
