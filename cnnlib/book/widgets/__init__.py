"""Interactive explorers for the chapters, one module per explorer."""
