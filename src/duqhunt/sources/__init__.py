"""Evidence parsers: they read, never execute and never trust."""
