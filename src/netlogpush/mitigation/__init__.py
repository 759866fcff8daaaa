"""The mitigation systems and their sampling (dosd, flowtrackd and magic-firewall)."""
