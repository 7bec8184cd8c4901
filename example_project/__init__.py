"""A user project for pytest-invstab: small trained networks and their stability suite."""
