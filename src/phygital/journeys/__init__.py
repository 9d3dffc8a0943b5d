"""Cross-channel journeys: ROPO, showrooming and click & collect; attribution and channel mix."""
