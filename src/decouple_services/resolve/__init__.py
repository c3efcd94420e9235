"""Resolution: symbolic values, hosts and endpoints across files."""
