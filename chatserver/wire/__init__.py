"""What goes over the wire: ``views.py`` turns domain objects into the JSON that Socket.IO clients,
REST callers and webhook receivers see; ``shapes.py`` describes the REST answers as msgspec structs
(the OpenAPI document's schemas). It depends on the domain only, and transport, http and the
webhook payloads all use it, so the same object has the same shape everywhere."""
