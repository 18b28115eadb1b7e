"""Data files of radguard.govern: the self-assessment template and the obligations."""
