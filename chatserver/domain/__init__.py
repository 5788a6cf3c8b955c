"""Domain layer: conversations, routing and presence rules over small storage ports."""
