"""The pure domain: decisions as functions of their inputs and ``now``. Standard library only."""
