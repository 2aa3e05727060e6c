"""One router per resource; each is built around the container it serves."""
