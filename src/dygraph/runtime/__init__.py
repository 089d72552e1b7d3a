"""The runtime: steps execution paths through a compiled machine."""
