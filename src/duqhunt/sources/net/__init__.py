"""Network evidence: Zeek logs (and, later, pcaps)."""
