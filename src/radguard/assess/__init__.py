"""Discovery and assessment of the imaging attack surface (``radguard scan``)."""
