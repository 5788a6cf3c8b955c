"""REST views, authentication and the OpenAPI document."""
