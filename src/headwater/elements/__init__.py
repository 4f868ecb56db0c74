"""Provider elements: their clients, OAuth and normalized hubs."""
