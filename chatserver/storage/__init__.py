"""Storage adapters: SQLite for durable records, memory (and later Redis) for routing state."""
