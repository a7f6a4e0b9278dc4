"""accelerators package."""
