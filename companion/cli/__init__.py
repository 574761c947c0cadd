"""The ``companion`` command: argument parsing in ``main``, one module per command group."""
