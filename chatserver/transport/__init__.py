"""Socket.IO transport: namespaces, payload validation, ordered delivery."""
