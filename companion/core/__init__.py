"""The core every layer may use: settings, errors, logging, package versions and the pure personality engine."""
