"""tap-dinero: a Singer tap for the Dinero accounting API, built on the Meltano Singer SDK."""
