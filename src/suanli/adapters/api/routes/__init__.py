"""One router per resource; each factory takes only the services and settings its routes use."""
