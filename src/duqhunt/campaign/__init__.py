"""Correlation: findings into one campaign (hosts, C&C, beacons; moves and relays later)."""
